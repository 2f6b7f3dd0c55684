import ProtoSchema
import XCTest

/// `strict` adds buf-style WIRE rules: deleted field and enum value numbers must be reserved.
final class StrictRuleCompatibilityTests: XCTestCase, CompatibilityTesting {
    private let order = proto3("message Order { string id = 1; int32 amount = 2; string note = 3; }")

    func testDeletingAFieldWithoutReservingItsNumberBreaksOnlyWhenStrict() throws {
        let new = proto3("message Order { string id = 1; string note = 3; }")
        XCTAssertTrue(try check(order, new, level: .backward).isCompatible)
        let report = try check(order, new, level: .backward, strict: true)
        XCTAssertEqual(violatedRules(report), ["FIELD_DELETED_NOT_RESERVED"])
        XCTAssertEqual(report.violations.first?.path, "shop.Order.amount")
        XCTAssertEqual(report.violations.first?.location, "#/Order/2")
        XCTAssertEqual(report.violations.first?.old, "int32 amount = 2")
        XCTAssertNil(report.violations.first?.new)
    }

    func testReservingTheDeletedNumberSatisfiesTheRule() throws {
        let single = proto3("message Order { reserved 2; string id = 1; string note = 3; }")
        XCTAssertTrue(try check(order, single, level: .backward, strict: true).isCompatible)
        let range = proto3("message Order { reserved 2 to 3; string id = 1; }")
        XCTAssertTrue(try check(order, range, level: .backward, strict: true).isCompatible)
    }

    func testReservingOnlyTheNameIsNotEnough() throws {
        let new = proto3("message Order { reserved \"amount\"; string id = 1; string note = 3; }")
        XCTAssertEqual(violatedRules(try check(order, new, level: .backward, strict: true)),
                       ["FIELD_DELETED_NOT_RESERVED"])
    }

    func testRenumberingIsADeletion() throws {
        let new = proto3("message Order { string id = 1; int32 amount = 4; string note = 3; }")
        XCTAssertEqual(violatedRules(try check(order, new, level: .backward, strict: true)),
                       ["FIELD_DELETED_NOT_RESERVED"])
    }

    func testDeletingAnEnumValueWithoutReservingItsNumberBreaksOnlyWhenStrict() throws {
        let old = proto3("enum Status { UNKNOWN = 0; ACTIVE = 1; CLOSED = 2; }\nmessage M { Status s = 1; }")
        let new = proto3("enum Status { UNKNOWN = 0; ACTIVE = 1; }\nmessage M { Status s = 1; }")
        XCTAssertTrue(try check(old, new, level: .full).isCompatible)
        let report = try check(old, new, level: .full, strict: true)
        XCTAssertEqual(violatedRules(report), ["ENUM_VALUE_DELETED_NOT_RESERVED"])
        XCTAssertEqual(report.violations.first?.path, "shop.Status.CLOSED")
        let reserved = proto3("enum Status { reserved 2; UNKNOWN = 0; ACTIVE = 1; }\nmessage M { Status s = 1; }")
        XCTAssertTrue(try check(old, reserved, level: .full, strict: true).isCompatible)
    }

    func testNestedTypesAreCheckedAndDeletedTypesAreNot() throws {
        let old = proto3("message Outer { message Inner { int32 a = 1; int32 b = 2; } enum E { Z = 0; ONE = 1; } }")
        let new = proto3("message Outer { message Inner { int32 a = 1; } enum E { Z = 0; } }")
        let report = try check(old, new, level: .backward, strict: true)
        XCTAssertEqual(report.violations.map(\.path), ["shop.Outer.Inner.b", "shop.Outer.E.ONE"])
        let gone = proto3("message Other { int32 a = 1; }")
        XCTAssertEqual(violatedRules(try check(old, gone, level: .backward, strict: true)), ["MESSAGE_REMOVED"])
    }

    func testStrictRulesLookFromOldToNewWhateverTheLevel() throws {
        let new = proto3("message Order { string id = 1; string note = 3; }")
        let report = try check(order, new, level: .forward, strict: true)
        XCTAssertEqual(violatedRules(report), ["FIELD_DELETED_NOT_RESERVED"])
        XCTAssertEqual(report.violations.first?.check, .strict)
        XCTAssertTrue(try check(order, new, level: .none, strict: true).isCompatible)
    }
}
