@testable import ClusterRuntime
import Foundation
import GanglionWire
import XCTest

/// An attempt's deadline and its abandonment as one two-stage watch: the first stage fires at the
/// deadline (and `end` then says so), the second at the later instant unless ended first; a watch
/// ended before its deadline fires neither.
final class DeadlineWatchTests: XCTestCase {
    final class Calls: @unchecked Sendable {
        private let lock = NSLock()
        private var names: [String] = []
        func add(_ name: String) { lock.withLock { names.append(name) } }
        var all: [String] { lock.withLock { names } }
    }

    func testTwoStagesFireInTurnAndEndingStopsTheRest() async throws {
        let watch = DeadlineWatch(), calls = Calls()
        let now = ContinuousClock.now
        let both = watch.watch(until: now + .milliseconds(20), expire: { calls.add("both.expire") },
                               thenUntil: now + .milliseconds(60)) { calls.add("both.abandon") }
        let first = watch.watch(until: now + .milliseconds(20), expire: { calls.add("first.expire") },
                                thenUntil: now + .seconds(30)) { calls.add("first.abandon") }
        let never = watch.watch(until: now + .seconds(30), expire: { calls.add("never.expire") },
                                thenUntil: now + .seconds(60)) { calls.add("never.abandon") }
        XCTAssertFalse(watch.end(never), "ended before its deadline: nothing fired")
        try await Task.sleep(for: .milliseconds(200))
        XCTAssertTrue(watch.end(first), "its first stage fired")
        XCTAssertTrue(watch.end(both))
        try await Task.sleep(for: .milliseconds(50))
        XCTAssertEqual(Set(calls.all), ["both.expire", "both.abandon", "first.expire"])
        XCTAssertLessThan(calls.all.firstIndex(of: "both.expire")!, calls.all.firstIndex(of: "both.abandon")!)
    }

    func testAPollIsCalledEachRoundUntilItSaysStop() async throws {
        let watch = DeadlineWatch(), calls = Calls()
        watch.poll { _ in
            calls.add("poll")
            return calls.all.count < 3
        }
        try await Task.sleep(for: .milliseconds(200))
        XCTAssertEqual(calls.all, ["poll", "poll", "poll"])
    }

    /// A batch's running entry: cancelled once at its deadline, abandoned once at the grace, its
    /// return then reported as past the deadline; the slice ends once; nothing is due after the end.
    func testABatchSaysWhatIsDueEachOnce() throws {
        let event = GanglionWire.EventEnvelope()
        let attempt = ShardAttempt(event: event, key: "k", partition: 0, offset: 0, attempt: 1, state: nil, timer: nil)
        let entry = ShardBatch.Entry(item: .init(offset: 0, key: "k", payload: AgentShard.Input(delivered: ShardInput(topic: "t", offset: 0, value: nil), event: nil)),
                                     token: 1, attempt: attempt)
        let batch = ShardBatch([entry]), start = ContinuousClock.now
        batch.start(sliceEnd: start + .milliseconds(2))
        XCTAssertNotNil(batch.next())
        batch.begin(entry, deadline: start + .milliseconds(10), abandonAt: start + .milliseconds(20))
        var due = batch.due(at: start + .milliseconds(1))
        XCTAssertFalse(due.expire || due.sliceOver || due.abandon != nil || due.ended)
        due = batch.due(at: start + .milliseconds(3))
        XCTAssertTrue(due.sliceOver)
        XCTAssertFalse(batch.due(at: start + .milliseconds(4)).sliceOver, "the slice ends once")
        due = batch.due(at: start + .milliseconds(11))
        XCTAssertTrue(due.expire)
        XCTAssertNil(due.abandon)
        XCTAssertFalse(batch.due(at: start + .milliseconds(12)).expire, "cancelled once")
        XCTAssertFalse(batch.due(at: start + .milliseconds(12)).ended, "the running entry may still be abandoned")
        due = batch.due(at: start + .milliseconds(21))
        XCTAssertEqual(due.abandon?.token, 1)
        XCTAssertTrue(due.ended, "abandoned after its slice: nothing more is due, the poll stops")
        XCTAssertNil(batch.due(at: start + .milliseconds(22)).abandon, "abandoned once")
        XCTAssertTrue(batch.returned(), "returned after its deadline")
        batch.end()
        XCTAssertTrue(batch.due(at: start + .seconds(1)).ended)
        // An entry that returns in time is not past its deadline.
        let second = ShardBatch([entry])
        second.begin(entry, deadline: start + .seconds(10), abandonAt: start + .seconds(20))
        XCTAssertFalse(second.due(at: start + .milliseconds(5)).expire)
        XCTAssertFalse(second.returned())
    }
}
