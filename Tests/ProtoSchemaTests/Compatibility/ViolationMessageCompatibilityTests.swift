import ProtoSchema
import XCTest

/// A violation names the rule, the element's full path, old and new as the versions have them, and a fix.
final class ViolationMessageCompatibilityTests: XCTestCase, CompatibilityTesting {
    func testTypeChangeNamesPathOldNewAndFix() throws {
        let report = try check(proto3("message Order { string id = 1; int32 amount = 3; }"),
                               proto3("message Order { string id = 1; string amount = 3; }"), level: .backward)
        let violation = try XCTUnwrap(report.violations.first)
        XCTAssertEqual(violation.rule, .fieldScalarKindChanged)
        XCTAssertEqual(violation.path, "shop.Order.amount")
        XCTAssertEqual(violation.location, "#/Order/3")
        XCTAssertEqual(violation.number, 3)
        XCTAssertEqual(violation.old, "int32")
        XCTAssertEqual(violation.new, "string")
        XCTAssertEqual(violation.advice,
                       "keep the type of field 3 (amount) and add a new field with a new number for the new type; "
                           + "reserve the old number")
        XCTAssertEqual(violation.message,
                       "FIELD_SCALAR_KIND_CHANGED at shop.Order.amount: int32 → string "
                           + "(the new schema could not read data written with version 1). Instead, keep the type of "
                           + "field 3 (amount) and add a new field with a new number for the new type; reserve the old number.")
    }

    func testForwardViolationsShowOldAndNewByVersionAge() throws {
        let report = try check(proto2("message Order { optional string id = 1; }"),
                               proto2("message Order { optional string id = 1; required int64 cents = 2; }"),
                               level: .forward)
        let violation = try XCTUnwrap(report.violations.first)
        XCTAssertEqual(violation.rule, .requiredFieldRemoved)
        XCTAssertEqual(violation.check, .forward)
        XCTAssertNil(violation.old)
        XCTAssertEqual(violation.new, "required int64 cents = 2")
        XCTAssertTrue(violation.advice.hasPrefix("declare field 2 (cents) `optional` instead of `required`"),
                      violation.advice)
        XCTAssertTrue(violation.message.contains("version 1 could not read data written with the new schema"))
    }

    func testEveryViolationMessageNamesRulePathAndAFix() throws {
        let old = proto2("message A { required int32 r = 1; optional int32 n = 2; oneof o { string x = 3; string y = 4; } }"
                         + "\nmessage Gone { optional string s = 1; }")
        let new = proto2("message A { optional int64 n = 2; optional group G = 5 { optional int32 z = 1; }"
                         + " oneof o { string x = 3; } }")
        let report = try check(old, new, level: .full, strict: true)
        XCTAssertFalse(report.isCompatible)
        for violation in report.violations {
            XCTAssertTrue(violation.message.hasPrefix("\(violation.rule.rawValue) at \(violation.path): "), violation.message)
            XCTAssertTrue(violation.message.contains("Instead, "), violation.message)
            XCTAssertFalse(violation.advice.hasPrefix("nothing"), violation.message)
            XCTAssertTrue(violation.path.hasPrefix("shop."), violation.message)
        }
        XCTAssertEqual(Set(report.violations.map(\.rule)), [
            .requiredFieldRemoved, .requiredFieldAdded, .oneofFieldRemoved, .messageRemoved, .fieldDeletedNotReserved,
        ])
    }

    func testDifferencesDescribeThemselves() throws {
        let differences = CompatibilityChecker().differences(
            from: try ProtocFixture.version(proto3("message M { int32 v = 1; }")),
            to: try ProtocFixture.version(proto3("message M { repeated int32 w = 1; }")))
        XCTAssertEqual(differences.map(\.description), ["FIELD_NAME_CHANGED shop.M.w: v → w"])
    }
}
