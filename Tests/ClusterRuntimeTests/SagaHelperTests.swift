import Foundation
import Ganglion
import XCTest

/// The saga helpers: a join completes once with every part; a step sequence advances in order,
/// ignores stale reports, and on failure names the compensations newest first.
final class SagaHelperTests: XCTestCase {
    func testAJoinCompletesOnceWhenEveryPartArrived() throws {
        var join = Join(expecting: ["tests", "security", "lint"])
        XCTAssertFalse(join.record("lint", Data("ok".utf8)))
        XCTAssertFalse(join.record("lint", Data("again".utf8)), "a duplicate part changes nothing")
        XCTAssertFalse(join.record("unknown"))
        XCTAssertEqual(join.missing, ["tests", "security"])
        XCTAssertFalse(join.record("tests"))
        XCTAssertTrue(join.record("security"))
        XCTAssertFalse(join.record("security"), "complete exactly once")
        XCTAssertEqual(join.received["lint"], Data("ok".utf8))
        let decoded = try JSONDecoder().decode(Join.self, from: JSONEncoder().encode(join))
        XCTAssertEqual(decoded, join, "a join survives the state store")
    }

    func testAStepSequenceCompensatesNewestFirst() {
        var saga = Saga(steps: ["extract", "validate", "route", "notify"])
        XCTAssertEqual(saga.current, "extract")
        XCTAssertEqual(saga.complete("extract"), "validate")
        XCTAssertNil(saga.complete("extract"), "a stale report changes nothing")
        XCTAssertEqual(saga.complete("validate"), "route")
        XCTAssertEqual(saga.fail("notify"), [], "only the current step can fail")
        XCTAssertEqual(saga.fail("route"), ["validate", "extract"])
        XCTAssertNil(saga.current)
        XCTAssertFalse(saga.isFinished)
        var happy = Saga(steps: ["a", "b"])
        _ = happy.complete("a")
        XCTAssertNil(happy.complete("b"))
        XCTAssertTrue(happy.isFinished)
    }

    func testAJoinTimesOutOnceAndIgnoresLateParts() throws {
        var join = Join(expecting: ["tests", "security", "lint"])
        XCTAssertFalse(join.record("lint"))
        XCTAssertEqual(join.expire(), ["tests", "security"])
        XCTAssertNil(join.expire(), "the wait ends once")
        XCTAssertFalse(join.record("tests"), "a late part is ignored")
        XCTAssertFalse(join.isComplete)
        var complete = Join(expecting: ["a"])
        XCTAssertTrue(complete.record("a"))
        XCTAssertNil(complete.expire(), "a complete join does not time out")
        // A state stored before timeouts existed still decodes.
        let old = Data(#"{"expected":["a","b"],"received":{},"isComplete":false}"#.utf8)
        XCTAssertFalse(try JSONDecoder().decode(Join.self, from: old).isTimedOut)
    }
}
