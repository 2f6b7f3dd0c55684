import ClusterCore
import XCTest

/// Records queued for the changelog before earlier ones are applied: a key's next event handled
/// while its last one's batch is still being written, and offset records made while an earlier
/// batch was in flight.
final class ShardChangelogQueueTests: XCTestCase {
    private func event(_ id: String, _ key: String, _ offset: Int64, state: String? = nil) -> HandledEvent {
        HandledEvent(eventID: id, key: key, offset: offset, newState: state.map { .some(Array($0.utf8)) } ?? nil, emitted: [],
                     outcome: Array(id.utf8))
    }

    /// Stores `batch` at the log's end and applies it as a shard does once it is durable.
    private func write(_ batch: [ShardChangelog.Record], to log: inout [ShardChangelog.Record], _ shard: inout ShardChangelog) {
        var batch = batch
        shard.coalesceProgress(&batch)
        let base = Int64(log.count)
        log += batch.enumerated().map { ShardChangelog.Record(key: $1.key, value: $1.value, offset: base + Int64($0)) }
        shard.apply(batch, from: base)
    }

    /// What compaction keeps: the newest record of each key, in log order.
    private func compacted(_ log: [ShardChangelog.Record]) -> [ShardChangelog.Record] {
        var newest: [[UInt8]: Int64] = [:]
        for record in log { newest[record.key] = record.offset }
        return log.filter { newest[$0.key] == $0.offset }
    }

    /// An event at offset 0 still runs (the committed offset stays at 0); events at 5 and 6 of
    /// other keys are handled, 6's batch made while 5's is being written. Once compaction kept
    /// only the newest offset record, a replay must still skip 5.
    func testAnOffsetRecordMadeWhileAnEarlierBatchWasWrittenKeepsItsHandledOffsets() {
        var shard = ShardChangelog()
        var log: [ShardChangelog.Record] = []
        let five = shard.records(for: event("e5", "a", 5), committableOffset: 0)
        shard.queue(five)
        let six = shard.records(for: event("e6", "b", 6), committableOffset: 0)
        shard.queue(six)
        write(five, to: &log, &shard)
        write(six, to: &log, &shard)
        var replayed = ShardChangelog()
        replayed.apply(compacted(log))
        XCTAssertEqual(replayed.nextOffset, 0)
        XCTAssertTrue(replayed.isDone(5), "handled above the committed offset: \(replayed.handledAbove.ranges)")
        XCTAssertTrue(replayed.isDone(6))
        XCTAssertFalse(replayed.isDone(0))
    }

    /// Events of one key queued one after another before any is applied: each starts from the
    /// state the one before set, a queued id is not runnable again, each id is evicted from the
    /// key's window once (the compacted log keeps exactly the window's ids), and once all are
    /// applied nothing is queued and a replay rebuilds the same shard.
    func testAKeysQueuedEventsStartFromTheirStateAndEvictEachIDOnce() {
        var shard = ShardChangelog(rememberedPerKey: 2)
        var log: [ShardChangelog.Record] = []
        for index in 0..<2 { write(shard.records(for: event("e\(index)", "a", Int64(index), state: "s\(index)")), to: &log, &shard) }
        var batches: [[ShardChangelog.Record]] = []
        for index in 2..<7 {
            let first = shard.firstAttempt(at: "e\(index)", key: "a")
            XCTAssertTrue(first.runnable)
            XCTAssertEqual(first.state.map { String(decoding: $0, as: UTF8.self) }, "s\(index - 1)", "event \(index) starts from the queued state")
            XCTAssertFalse(shard.firstAttempt(at: "e\(index - 1)", key: "a").runnable, "a queued id is a redelivery")
            let batch = shard.records(for: event("e\(index)", "a", Int64(index), state: "s\(index)"))
            shard.queue(batch)
            batches.append(batch)
            XCTAssertTrue(shard.isQueued("a"))
        }
        // Written two by two, then the rest.
        write(batches[0] + batches[1], to: &log, &shard)
        XCTAssertTrue(shard.isQueued("a"))
        for batch in batches[2...] { write(batch, to: &log, &shard) }
        XCTAssertFalse(shard.isQueued("a"))
        XCTAssertNotNil(shard.outcome(ofHandled: "e6", key: "a"))
        XCTAssertNotNil(shard.outcome(ofHandled: "e5", key: "a"))
        XCTAssertNil(shard.outcome(ofHandled: "e4", key: "a"))
        let tombstones = log.filter { $0.value == nil && $0.key.first == UInt8(ascii: "i") }.map(\.key)
        XCTAssertEqual(tombstones.count, Set(tombstones).count, "an id evicted twice")
        let ids = compacted(log).filter { $0.value != nil && $0.key.first == UInt8(ascii: "i") }
        XCTAssertEqual(ids.count, 2, "the compacted log keeps the window's ids and no more")
        var replayed = ShardChangelog(rememberedPerKey: 2)
        replayed.apply(compacted(log))
        XCTAssertEqual(replayed, shard)
        XCTAssertEqual(replayed.states["a"].map { String(decoding: $0, as: UTF8.self) }, "s6")
    }

    /// A timer's firing queues no event of its key (it records no handled id): nothing stays
    /// queued for the key, whose events then start from what is applied.
    func testATimersFiringLeavesNothingQueued() {
        var shard = ShardChangelog()
        var firing = event("timer/a/t/1", "a", -1, state: "fired")
        firing.firedTimer = ShardTimer(key: "a", name: "t", fireAt: 1, data: [])
        let records = shard.records(for: firing)
        shard.queue(records)
        XCTAssertFalse(shard.isQueued("a"))
    }
}
