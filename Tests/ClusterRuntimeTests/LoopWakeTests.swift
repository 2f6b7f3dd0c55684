import ClusterRuntime
import XCTest

/// A loop's wait (the agent host's committer, a shard's timer loop) ends early on a signal,
/// never sooner than its minimum spacing, and at once when it stops.
final class LoopWakeTests: XCTestCase {
    func testASignalEndsTheWaitOnceTheMinimumHasPassed() async {
        let nudge = LoopWake()
        nudge.signal()
        let started = ContinuousClock.now
        await nudge.wait(upTo: .seconds(5), atLeast: .milliseconds(20))
        let waited = ContinuousClock.now - started
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(20))
        XCTAssertLessThan(waited, .seconds(2))
    }

    func testASignalDuringTheWaitEndsIt() async {
        let nudge = LoopWake()
        let started = ContinuousClock.now
        Task {
            try? await Task.sleep(for: .milliseconds(50))
            nudge.signal()
        }
        await nudge.wait(upTo: .seconds(5), atLeast: .milliseconds(1))
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2))
    }

    func testWithoutASignalTheWaitLastsItsMaximumAndASignalCountsOnce() async {
        let nudge = LoopWake()
        nudge.signal()
        await nudge.wait(upTo: .seconds(5), atLeast: .milliseconds(1))
        let started = ContinuousClock.now
        await nudge.wait(upTo: .milliseconds(150), atLeast: .milliseconds(1))
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, .milliseconds(150))
    }

    func testCancellingTheWaiterEndsTheWaitAtOnce() async {
        let nudge = LoopWake()
        let started = ContinuousClock.now
        let waiter = Task { await nudge.wait(upTo: .seconds(10), atLeast: .milliseconds(1)) }
        try? await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await waiter.value
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
    }
}
