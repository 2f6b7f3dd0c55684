import ProtoSchema
import XCTest

/// Field numbers, names, kinds, scalar groups and labels follow Confluent's `FieldSchemaDiff` and `MessageSchemaDiff`.
final class FieldCompatibilityTests: XCTestCase, CompatibilityTesting {
    private let base = proto3("message Order { string id = 1; int32 amount = 2; }")

    func testAddingAFieldIsCompatibleBothWays() throws {
        let new = proto3("message Order { string id = 1; int32 amount = 2; string note = 3; }")
        XCTAssertEqual(try differences(base, new), ["FIELD_ADDED #/Order/3"])
        XCTAssertTrue(try check(base, new, level: .fullTransitive).isCompatible)
    }

    func testRemovingAFieldIsCompatibleButNotUnderStrictRules() throws {
        let new = proto3("message Order { string id = 1; }")
        XCTAssertEqual(try differences(base, new), ["FIELD_REMOVED #/Order/2"])
        XCTAssertTrue(try check(base, new, level: .full).isCompatible)
        XCTAssertEqual(violatedRules(try check(base, new, level: .backward, strict: true)),
                       ["FIELD_DELETED_NOT_RESERVED"])
    }

    func testChangingAFieldNumberIsARemovalAndAnAddition() throws {
        let new = proto3("message Order { string id = 1; int32 amount = 5; }")
        XCTAssertEqual(try differences(base, new), ["FIELD_REMOVED #/Order/2", "FIELD_ADDED #/Order/5"])
        XCTAssertTrue(try check(base, new, level: .backward).isCompatible)
    }

    func testRenamingAFieldIsCompatible() throws {
        let new = proto3("message Order { string id = 1; int32 total = 2; }")
        XCTAssertEqual(try differences(base, new), ["FIELD_NAME_CHANGED #/Order/2"])
        XCTAssertTrue(try check(base, new, level: .fullTransitive).isCompatible)
    }

    func testScalarToMessageIsAKindChange() throws {
        let new = proto3("message Order { string id = 1; Money amount = 2; }\nmessage Money { int64 cents = 1; }")
        XCTAssertEqual(try differences(base, new), ["MESSAGE_ADDED #/Money", "FIELD_KIND_CHANGED #/Order/2"])
        XCTAssertEqual(violatedRules(try check(base, new, level: .backward)), ["FIELD_KIND_CHANGED"])
        XCTAssertTrue(try check(base, new, level: .none).isCompatible)
    }

    func testScalarToMapIsAKindChange() throws {
        let new = proto3("message Order { string id = 1; map<string, int32> amount = 2; }")
        XCTAssertEqual(try differences(base, new), ["FIELD_KIND_CHANGED #/Order/2"])
    }

    func testScalarsWithinAWireGroupAreCompatible() throws {
        let groups: [(String, String)] = [
            ("int32", "int64"), ("int32", "uint32"), ("uint64", "bool"), ("sint32", "sint64"),
            ("fixed32", "sfixed32"), ("fixed64", "sfixed64"), ("string", "bytes"),
        ]
        for (before, after) in groups {
            let old = proto3("message M { \(before) v = 1; }")
            let new = proto3("message M { \(after) v = 1; }")
            XCTAssertEqual(try differences(old, new), [], "\(before) → \(after)")
            XCTAssertTrue(try check(old, new, level: .full).isCompatible, "\(before) → \(after)")
        }
    }

    func testScalarsAcrossWireGroupsBreak() throws {
        let changes: [(String, String)] = [
            ("int32", "sint32"), ("int64", "fixed64"), ("fixed32", "fixed64"), ("float", "double"),
            ("int32", "string"), ("bytes", "double"), ("sfixed32", "int32"),
        ]
        for (before, after) in changes {
            let old = proto3("message M { \(before) v = 1; }")
            let new = proto3("message M { \(after) v = 1; }")
            XCTAssertEqual(try differences(old, new), ["FIELD_SCALAR_KIND_CHANGED #/M/1"], "\(before) → \(after)")
            XCTAssertFalse(try check(old, new, level: .backward).isCompatible, "\(before) → \(after)")
        }
    }

    func testEnumsReadAsGeneralNumbers() throws {
        let old = proto3("message M { int32 v = 1; }")
        let toEnum = proto3("message M { Status v = 1; }\nenum Status { UNKNOWN = 0; ACTIVE = 1; }")
        XCTAssertEqual(try differences(old, toEnum), ["ENUM_ADDED #/Status"])
        XCTAssertTrue(try check(old, toEnum, level: .full).isCompatible)
        let toSigned = proto3("message M { sint32 v = 1; }\nenum Status { UNKNOWN = 0; }")
        XCTAssertEqual(violatedRules(try check(toEnum, toSigned, level: .backward)), ["FIELD_SCALAR_KIND_CHANGED"])
    }

    func testMapValueTypesFollowTheScalarGroups() throws {
        let old = proto3("message M { map<string, int32> counts = 1; }")
        XCTAssertEqual(try differences(old, proto3("message M { map<string, int64> counts = 1; }")), [])
        XCTAssertEqual(try differences(old, proto3("message M { map<string, string> labels = 1; }")),
                       ["FIELD_NAME_CHANGED #/M/1", "FIELD_SCALAR_KIND_CHANGED #/M/1"])
    }

    func testPointingAFieldAtAnotherMessageBreaks() throws {
        let old = proto3("message M { A v = 1; }\nmessage A { string s = 1; }")
        let new = proto3("message M { B v = 1; }\nmessage B { string s = 1; }")
        XCTAssertEqual(try differences(old, new),
                       ["MESSAGE_REMOVED #/A", "MESSAGE_ADDED #/B", "FIELD_NAMED_TYPE_CHANGED #/M/1"])
        XCTAssertEqual(violatedRules(try check(old, new, level: .backward)),
                       ["MESSAGE_REMOVED", "FIELD_NAMED_TYPE_CHANGED"])
    }

    func testQualifyingATypeNameDifferentlyIsNoChange() throws {
        let old = proto3("message M { Inner v = 1; message Inner { string s = 1; } }")
        let new = proto3("message M { .shop.M.Inner v = 1; message Inner { string s = 1; } }")
        XCTAssertEqual(try differences(old, new), [])
    }

    func testNumericLabelChangeBreaksButStringOrBytesLabelChangeDoesNot() throws {
        let numeric = try check(proto3("message M { optional int32 v = 1; }"),
                                proto3("message M { repeated int32 v = 1; }"), level: .backward)
        XCTAssertEqual(violatedRules(numeric), ["FIELD_NUMERIC_LABEL_CHANGED"])
        let text = try check(proto3("message M { optional string v = 1; }"),
                             proto3("message M { repeated string v = 1; }"), level: .fullTransitive)
        XCTAssertTrue(text.isCompatible)
        XCTAssertEqual(text.differences.map(\.rule), [.fieldStringOrBytesLabelChanged, .fieldStringOrBytesLabelChanged])
    }

    func testLabelsAreComparedOnlyWhenBothAreWritten() throws {
        // Confluent compares labels as text declares them: a proto3 singular field has none.
        XCTAssertEqual(try differences(proto3("message M { int32 v = 1; }"), proto3("message M { repeated int32 v = 1; }")), [])
        XCTAssertEqual(try differences(proto3("message M { optional A v = 1; }\nmessage A {}"),
                                       proto3("message M { repeated A v = 1; }\nmessage A {}")), [])
    }
}
