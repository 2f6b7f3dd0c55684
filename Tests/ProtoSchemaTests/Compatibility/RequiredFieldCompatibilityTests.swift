import ProtoSchema
import XCTest

/// Required fields may be neither added nor removed (proto2), in either direction.
final class RequiredFieldCompatibilityTests: XCTestCase, CompatibilityTesting {
    private let base = proto2("message Order { optional string id = 1; }")
    private let withRequired = proto2("message Order { optional string id = 1; required int64 cents = 2; }")

    func testAddingARequiredFieldBreaksBackwardButNotNone() throws {
        XCTAssertEqual(try differences(base, withRequired), ["REQUIRED_FIELD_ADDED #/Order/2"])
        XCTAssertEqual(violatedRules(try check(base, withRequired, level: .backward)), ["REQUIRED_FIELD_ADDED"])
        XCTAssertTrue(try check(base, withRequired, level: .none).isCompatible)
    }

    func testAddingARequiredFieldBreaksForwardAsARemoval() throws {
        XCTAssertEqual(violatedRules(try check(base, withRequired, level: .forward)), ["REQUIRED_FIELD_REMOVED"])
    }

    func testRemovingARequiredFieldBreaksBothWays() throws {
        XCTAssertEqual(try differences(withRequired, base), ["REQUIRED_FIELD_REMOVED #/Order/2"])
        XCTAssertEqual(violatedRules(try check(withRequired, base, level: .full)),
                       ["REQUIRED_FIELD_REMOVED", "REQUIRED_FIELD_ADDED"])
    }

    func testAddingAnOptionalProto2FieldIsCompatible() throws {
        let new = proto2("message Order { optional string id = 1; optional int64 cents = 2; }")
        XCTAssertTrue(try check(base, new, level: .fullTransitive).isCompatible)
    }

    func testMakingAnOptionalNumberRequiredIsANumericLabelChange() throws {
        let old = proto2("message Order { optional string id = 1; optional int64 cents = 2; }")
        XCTAssertEqual(violatedRules(try check(old, withRequired, level: .backward)), ["FIELD_NUMERIC_LABEL_CHANGED"])
    }
}
