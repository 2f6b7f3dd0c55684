import ProtoSchema
import XCTest

/// Which versions a level checks, and which way: plain levels the latest, transitive levels all (oldest first).
final class LevelCompatibilityTests: XCTestCase, CompatibilityTesting {
    // v1 has `amount` as int32; v2 drops it; v3 brings number 2 back as a string.
    private let v1 = proto3("message Order { string id = 1; int32 amount = 2; }")
    private let v2 = proto3("message Order { string id = 1; }")
    private let v3 = proto3("message Order { string id = 1; string amount = 2; }")

    func testRawValuesAreConfluentsNames() {
        XCTAssertEqual(CompatibilityLevel.allCases.map(\.rawValue), [
            "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE",
        ])
    }

    func testAChangeCompatibleWithTheLatestButNotAnOlderVersionFailsOnlyTransitively() throws {
        for level in [CompatibilityLevel.backward, .forward, .full] {
            XCTAssertTrue(try check([v1, v2], v3, level: level).isCompatible, level.rawValue)
        }
        let backward = try check([v1, v2], v3, level: .backwardTransitive)
        XCTAssertEqual(violatedRules(backward), ["FIELD_SCALAR_KIND_CHANGED"])
        XCTAssertEqual(backward.violations.first?.historyIndex, 0)
        XCTAssertEqual(backward.violations.first?.old, "int32")
        XCTAssertEqual(backward.violations.first?.new, "string")
        XCTAssertEqual(violatedRules(try check([v1, v2], v3, level: .forwardTransitive)), ["FIELD_SCALAR_KIND_CHANGED"])
        XCTAssertEqual(violatedRules(try check([v1, v2], v3, level: .fullTransitive)),
                       ["FIELD_SCALAR_KIND_CHANGED", "FIELD_SCALAR_KIND_CHANGED"])
    }

    func testTransitiveLevelsCompareEveryVersionOldestFirst() throws {
        let report = try check([v1, v2, v2], v2, level: .fullTransitive, strict: true)
        XCTAssertEqual(report.comparisons.map(\.historyIndex), [0, 0, 0, 1, 1, 1, 2, 2, 2])
        XCTAssertEqual(report.comparisons.map(\.kind), Array(repeating: [.backward, .forward, .strict], count: 3).flatMap { $0 })
        XCTAssertEqual(violatedRules(report), ["FIELD_DELETED_NOT_RESERVED"])
    }

    func testPlainLevelsCompareOnlyTheLatestVersion() throws {
        let report = try check([v1, v2], v3, level: .full)
        XCTAssertEqual(report.comparisons.map(\.historyIndex), [1, 1])
        XCTAssertEqual(report.comparisons.map(\.kind), [.backward, .forward])
        XCTAssertEqual(report.differences.map(\.rule), [.fieldAdded, .fieldRemoved])
    }

    func testNoneAndAnEmptyHistoryAlwaysPass() throws {
        let incompatible = proto3("message Order { int64 id = 1; }")
        let none = try check([v1, v2], incompatible, level: .none, strict: true)
        XCTAssertTrue(none.isCompatible)
        XCTAssertTrue(none.comparisons.isEmpty)
        for level in CompatibilityLevel.allCases {
            XCTAssertTrue(try check([], incompatible, level: level).isCompatible, level.rawValue)
        }
    }

    func testCheckedVersionsPerLevel() {
        XCTAssertEqual(CompatibilityLevel.backward.checkedVersions(historyCount: 3), 2..<3)
        XCTAssertEqual(CompatibilityLevel.fullTransitive.checkedVersions(historyCount: 3), 0..<3)
        XCTAssertEqual(CompatibilityLevel.none.checkedVersions(historyCount: 3), 0..<0)
        XCTAssertEqual(CompatibilityLevel.forward.checkedVersions(historyCount: 0), 0..<0)
    }
}
