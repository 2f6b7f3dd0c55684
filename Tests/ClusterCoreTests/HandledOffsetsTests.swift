import ClusterCore
import GanglionTestKit
import XCTest

/// The offsets handled above a pinned committed offset (issue 14, guarantee 1): kept as ranges,
/// carried in the offset record of every batch, merged when batches are committed together, and
/// read from changelogs written before they existed.
final class HandledOffsetsTests: XCTestCase {
    func testRangesMergeSplitAndTrimLikeASetOfOffsets() {
        var random = SeededGenerator(seed: 14)
        for _ in 0..<200 {
            var set = HandledOffsets()
            var model = Set<Int64>()
            for _ in 0..<60 {
                let offset = Int64.random(in: 0..<80, using: &random)
                set.insert(offset)
                model.insert(offset)
            }
            let floor = Int64.random(in: 0..<40, using: &random)
            set.removeAll(below: floor)
            model = model.filter { $0 >= floor }
            XCTAssertEqual((0..<90).filter(set.contains), (0..<90).filter(model.contains))
            for (left, right) in zip(set.ranges, set.ranges.dropFirst()) {
                XCTAssertLessThan(left.upperBound + 1, right.lowerBound, "disjoint, not adjacent")
            }
        }
    }

    /// Key A pins offset 0; B's 1 000 events are handled. A new shard replayed from the log (one
    /// compacted record per key) knows every one of them is done, the window of ids long passed.
    func testAReplayKnowsEveryOffsetHandledAboveAPinnedCommit() {
        var shard = ShardChangelog(rememberedPerKey: 64)
        var log: [ShardChangelog.Record] = []
        for offset in Int64(1)...1000 {
            let event = HandledEvent(eventID: "b-\(offset)", key: "B", offset: offset, newState: .some([1]), emitted: [])
            let batch = shard.records(for: event, committableOffset: 0)
            log += batch
            shard.apply(batch)
        }
        var newest: [[UInt8]: ShardChangelog.Record] = [:]
        for record in log { newest[record.key] = record }
        var replayed = ShardChangelog()
        replayed.apply(Array(newest.values))
        XCTAssertEqual(replayed.nextOffset, 0)
        XCTAssertFalse(replayed.isDone(0), "A's event is still to run")
        XCTAssertEqual((1...1000).filter { !replayed.isDone(Int64($0)) }, [])
        XCTAssertFalse(replayed.isDone(1001))
        XCTAssertEqual(replayed.handledAbove.ranges, [1...1000], "one range for the run")
        XCTAssertNil(replayed.outcome(ofHandled: "b-1", key: "B"), "long out of the window of ids")

        // A finishes: the offset passes everything, the set empties.
        let a = HandledEvent(eventID: "a-0", key: "A", offset: 0, newState: .some([1]), emitted: [])
        replayed.apply(replayed.records(for: a, committableOffset: 1001))
        XCTAssertEqual(replayed.nextOffset, 1001)
        XCTAssertTrue(replayed.handledAbove.isEmpty)
    }

    /// Batches made concurrently each know only their own offset; committed together, their offset
    /// records become one that holds them all (compaction would keep only the last).
    func testBatchesCommittedTogetherKeepEveryHandledOffset() {
        let shard = ShardChangelog()
        let batches = [Int64(3), 5, 4].map { offset in
            shard.records(for: HandledEvent(eventID: "e-\(offset)", key: "k\(offset)", offset: offset, newState: nil, emitted: []), committableOffset: 0)
        }
        let merged = shard.coalescingProgress(batches.flatMap { $0 })
        XCTAssertEqual(merged.filter { $0.key == Array("o".utf8) }.count, 1)
        XCTAssertEqual(merged.last?.key, Array("o".utf8))
        var compacted: [[UInt8]: ShardChangelog.Record] = [:]
        for record in merged { compacted[record.key] = record }
        var replayed = ShardChangelog()
        replayed.apply(Array(compacted.values))
        XCTAssertEqual(replayed.handledAbove.ranges, [3...5])
    }

    /// Events of distinct keys committed as one batch (one offset record for all) leave the same
    /// changelog, live and replayed, as their separate batches coalesced — over many seeds, with
    /// states, emitted events, handled-id windows that overflow, and a pinned committed offset.
    func testEventsCommittedTogetherMatchTheirSeparateBatchesCoalesced() {
        for seed in UInt64(1)...200 {
            var random = SeededGenerator(seed: seed)
            var together = ShardChangelog(rememberedPerKey: 3), separate = ShardChangelog(rememberedPerKey: 3)
            var offset: Int64 = Int64.random(in: 0..<5, using: &random)
            for round in 0..<12 {
                let keys = Array(Set((0..<Int.random(in: 1...5, using: &random)).map { _ in "k\(Int.random(in: 0..<6, using: &random))" }))
                var events: [HandledEvent] = [], committables: [Int64] = []
                for key in keys {
                    offset += Int64.random(in: 1...3, using: &random)
                    let emitted = (0..<Int.random(in: 0...2, using: &random)).map { index in
                        OutboxEntry(id: "out-\(offset)-\(index)", topic: "t", key: Array(key.utf8), event: [UInt8(index)])
                    }
                    events.append(HandledEvent(eventID: "e-\(offset)", key: key, offset: offset, newState: .some([UInt8(round)]), emitted: emitted,
                                               outcome: [UInt8(offset & 0xff)]))
                    committables.append(Bool.random(using: &random) ? offset + 1 : max(0, offset - 4))
                }
                let committable = committables.max()!
                let merged = separate.coalescingProgress(zip(events, committables).flatMap { separate.records(for: $0, committableOffset: $1) })
                let batch = together.records(for: events, committableOffset: committable)
                let base = Int64(round * 100)
                together.apply(batch.enumerated().map { ShardChangelog.Record(key: $1.key, value: $1.value, offset: base + Int64($0)) })
                separate.apply(merged.enumerated().map { ShardChangelog.Record(key: $1.key, value: $1.value, offset: base + Int64($0)) })
                XCTAssertEqual(together, separate, "seed \(seed) round \(round)")
                XCTAssertEqual(batch.filter { $0.key == Array("o".utf8) }.count, 1, "seed \(seed)")
            }
            XCTAssertEqual(together.handledAbove, separate.handledAbove, "seed \(seed)")
            XCTAssertEqual(together.nextOffset, separate.nextOffset, "seed \(seed)")
        }
    }

    /// A changelog written before the set existed: the offset record holds the offset alone.
    func testAnOffsetRecordFromBeforeTheSetReplays() {
        var replayed = ShardChangelog()
        replayed.apply([ShardChangelog.Record(key: Array("o".utf8), value: [0, 0, 0, 0, 0, 0, 0, 42])])
        XCTAssertEqual(replayed.nextOffset, 42)
        XCTAssertTrue(replayed.handledAbove.isEmpty)
        XCTAssertTrue(replayed.isDone(41))
        XCTAssertFalse(replayed.isDone(42))
    }

    func testTheSchedulerTakesNothingMoreThanTheSpanPastTheCommittableOffset() throws {
        var scheduler = ShardScheduler<String>(startOffset: 0, capacity: 100, maxConcurrent: 4, maxSpan: 10)
        try scheduler.enqueue(.init(offset: 0, key: "slow", payload: "pins"))
        for offset in Int64(1)..<10 { try scheduler.enqueue(.init(offset: offset, key: "fast", payload: "")) }
        XCTAssertFalse(scheduler.hasRoom(for: 10), "10 past the committable offset 0")
        XCTAssertThrowsError(try scheduler.enqueue(.init(offset: 10, key: "fast", payload: "")))
        XCTAssertEqual(scheduler.start()?.offset, 0)
        scheduler.finish(offset: 0, key: "slow")
        XCTAssertTrue(scheduler.hasRoom(for: 10), "the committable offset moved on")
    }
}
