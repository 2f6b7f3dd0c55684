import ProtoSchema
import XCTest

/// Oneofs: adding members is fine, dropping them is not, and fields that old data could set together must not
/// end up in one oneof (Confluent's `MessageSchemaDiff` membership check and `OneOfDiff`).
final class OneofCompatibilityTests: XCTestCase, CompatibilityTesting {
    private let twoFields = proto3("message Pay { string card = 1; string iban = 2; }")
    private let oneofTwo = proto3("message Pay { oneof method { string card = 1; string iban = 2; } }")
    private let oneofThree = proto3("message Pay { oneof method { string card = 1; string iban = 2; int32 cash = 3; } }")

    func testMovingOneFieldIntoANewOneofIsCompatible() throws {
        let new = proto3("message Pay { string card = 1; oneof method { string iban = 2; int32 cash = 3; } }")
        XCTAssertEqual(try differences(twoFields, new), ["ONEOF_ADDED #/Pay/method"])
        XCTAssertTrue(try check(twoFields, new, level: .backward).isCompatible)
    }

    func testMovingTwoFieldsIntoOneOneofBreaks() throws {
        XCTAssertEqual(try differences(twoFields, oneofThree),
                       ["MULTIPLE_FIELDS_MOVED_TO_ONEOF #/Pay/method", "ONEOF_ADDED #/Pay/method"])
        XCTAssertEqual(violatedRules(try check(twoFields, oneofThree, level: .backward)),
                       ["MULTIPLE_FIELDS_MOVED_TO_ONEOF"])
        XCTAssertTrue(try check(twoFields, oneofThree, level: .none).isCompatible)
    }

    func testMovingAFieldIntoAnExistingOneofBreaks() throws {
        let old = proto3("message Pay { string card = 1; oneof method { string iban = 2; int32 cash = 3; } }")
        let new = proto3("message Pay { oneof method { string card = 1; string iban = 2; int32 cash = 3; } }")
        XCTAssertEqual(try differences(old, new),
                       ["FIELD_MOVED_TO_EXISTING_ONEOF #/Pay/method", "ONEOF_FIELD_ADDED #/Pay/method/1"])
        XCTAssertEqual(violatedRules(try check(old, new, level: .backward)), ["FIELD_MOVED_TO_EXISTING_ONEOF"])
    }

    func testMovingAFieldIntoARenamedOneofBreaks() throws {
        let old = proto3("message Pay { string card = 1; oneof method { string iban = 2; int32 cash = 3; } }")
        let new = proto3("message Pay { oneof kind { string card = 1; string iban = 2; int32 cash = 3; } }")
        XCTAssertEqual(try differences(old, new), [
            "FIELD_MOVED_TO_EXISTING_ONEOF #/Pay/kind", "ONEOF_ADDED #/Pay/kind", "ONEOF_REMOVED #/Pay/method",
        ])
    }

    func testAddingAOneofMemberIsBackwardButNotForwardCompatible() throws {
        XCTAssertEqual(try differences(oneofTwo, oneofThree), ["ONEOF_FIELD_ADDED #/Pay/method/3"])
        XCTAssertTrue(try check(oneofTwo, oneofThree, level: .backward).isCompatible)
        XCTAssertEqual(violatedRules(try check(oneofTwo, oneofThree, level: .forward)), ["ONEOF_FIELD_REMOVED"])
    }

    func testRemovingAOneofMemberBreaks() throws {
        XCTAssertEqual(try differences(oneofThree, oneofTwo), ["ONEOF_FIELD_REMOVED #/Pay/method/3"])
        XCTAssertEqual(violatedRules(try check(oneofThree, oneofTwo, level: .backward)), ["ONEOF_FIELD_REMOVED"])
    }

    func testMovingAMemberOutOfItsOneofIsBackwardButNotForwardCompatible() throws {
        let new = proto3("message Pay { string card = 1; oneof method { string iban = 2; } }")
        XCTAssertEqual(try differences(oneofTwo, new), ["FIELD_ADDED #/Pay/1"])
        XCTAssertTrue(try check(oneofTwo, new, level: .backward).isCompatible)
        XCTAssertEqual(violatedRules(try check(oneofTwo, new, level: .forward)), ["FIELD_MOVED_TO_EXISTING_ONEOF"])
    }

    func testATypeChangeIsFoundWhenTheFieldAlsoChangesOneof() throws {
        let new = proto3("message Pay { oneof method { int64 card = 1; string iban = 2; } }")
        let old = proto3("message Pay { string card = 1; oneof method { string iban = 2; } }")
        XCTAssertEqual(try differences(old, new), [
            "FIELD_MOVED_TO_EXISTING_ONEOF #/Pay/method", "ONEOF_FIELD_ADDED #/Pay/method/1",
            "FIELD_SCALAR_KIND_CHANGED #/Pay/1",
        ])
    }

    func testRemovingAWholeOneofIsCompatibleButItsFieldsAreRemoved() throws {
        let new = proto3("message Pay { }")
        XCTAssertEqual(try differences(oneofTwo, new), ["ONEOF_REMOVED #/Pay/method"])
        XCTAssertTrue(try check(oneofTwo, new, level: .backward).isCompatible)
        XCTAssertEqual(violatedRules(try check(oneofTwo, new, level: .backward, strict: true)),
                       ["FIELD_DELETED_NOT_RESERVED", "FIELD_DELETED_NOT_RESERVED"])
    }

    func testProto3OptionalFieldsAreNotOneofs() throws {
        let old = proto3("message Pay { optional string card = 1; }")
        let new = proto3("message Pay { optional string card = 1; optional int32 cash = 2; }")
        XCTAssertEqual(try differences(old, new), ["FIELD_ADDED #/Pay/2"])
    }
}
