import ClusterCore
import Foundation
import GanglionTestKit
import XCTest

/// The shard scheduler under seeded random arrivals and completion orders: per-key order, one
/// event per key at a time, the concurrency bound, the capacity bound, the committable offset
/// is the lowest unfinished one, and every event runs exactly once. A failure prints its seed.
final class ShardSchedulerTests: XCTestCase {
    private static let seeds: [UInt64] = ProcessInfo.processInfo.environment["GANGLION_SHARD_SEED"].flatMap(UInt64.init).map { [$0] }
        ?? Array(1...UInt64(ProcessInfo.processInfo.environment["GANGLION_SHARD_SEEDS"].flatMap(Int.init) ?? 500))

    func testKeysRunInOrderWithinTheBoundsAndTheCommitIsTheLowestUnfinished() {
        var failures: [String] = []
        for seed in Self.seeds {
            if let failure = simulate(seed: seed) { failures.append("seed \(seed): \(failure)") }
            if failures.count >= 5 { break }
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n") + "\n(replay one with GANGLION_SHARD_SEED=<seed>)")
    }

    private func simulate(seed: UInt64) -> String? {
        var random = SeededGenerator(seed: seed)
        let capacity = Int(1 + random.next() % 16), maxConcurrent = Int(1 + random.next() % 6)
        let keys = (0..<Int(1 + random.next() % 8)).map { "k\($0)" }
        let start = Int64(random.next() % 1000)
        var scheduler = ShardScheduler<Int>(startOffset: start, capacity: capacity, maxConcurrent: maxConcurrent)
        let total = 300
        var next = start
        var produced = 0
        var running: [ShardScheduler<Int>.Item] = []
        var ranPerKey: [String: [Int64]] = [:]
        var keyOf: [Int64: String] = [:]
        var finished = Set<Int64>()
        var skipped = Set<Int64>()
        var steps = 0
        while finished.count + skipped.count < total {
            steps += 1
            guard steps < 100_000 else { return "no progress: \(finished.count + skipped.count) of \(total) done" }
            switch random.next() % 4 {
            case 0 where produced < total:
                if random.next() % 8 == 0 {
                    do { try scheduler.skip(offset: next) } catch { return "skip refused: \(error)" }
                    skipped.insert(next)
                } else {
                    let key = keys[Int(random.next() % UInt64(keys.count))]
                    do {
                        try scheduler.enqueue(.init(offset: next, key: key, payload: produced))
                    } catch .full {
                        guard scheduler.count >= capacity else { return "refused as full with \(scheduler.count) of \(capacity)" }
                        continue
                    } catch {
                        return "refused: \(error)"
                    }
                    keyOf[next] = key
                }
                next += 1
                produced += 1
            case 1:
                if let item = scheduler.start() {
                    if running.contains(where: { $0.key == item.key }) { return "key \(item.key) started twice at once" }
                    if let last = ranPerKey[item.key]?.last, last >= item.offset { return "key \(item.key) ran \(item.offset) after \(last)" }
                    ranPerKey[item.key, default: []].append(item.offset)
                    running.append(item)
                    if running.count > maxConcurrent { return "\(running.count) running, bound \(maxConcurrent)" }
                }
            default:
                guard !running.isEmpty else { continue }
                let index = Int(random.next() % UInt64(running.count))
                let item = running.remove(at: index)
                scheduler.finish(offset: item.offset, key: item.key)
                finished.insert(item.offset)
            }
            if scheduler.count > capacity { return "holds \(scheduler.count), capacity \(capacity)" }
            // The committable offset: every offset below it is done, and it is not done itself
            // unless everything produced is.
            let committable = scheduler.committableOffset
            let done = finished.union(skipped)
            var lowestUnfinished = start
            while done.contains(lowestUnfinished) { lowestUnfinished += 1 }
            if committable != lowestUnfinished { return "committable \(committable), lowest unfinished \(lowestUnfinished)" }
        }
        for (key, offsets) in ranPerKey where offsets != offsets.sorted() { return "key \(key) out of order" }
        let ran = ranPerKey.values.reduce(0) { $0 + $1.count }
        if ran != keyOf.count { return "\(ran) ran, \(keyOf.count) enqueued" }
        if scheduler.committableOffset != start + Int64(total) { return "final commit \(scheduler.committableOffset)" }
        return nil
    }

    func testFullAndOutOfOrderAreRefused() throws {
        var scheduler = ShardScheduler<Void>(startOffset: 10, capacity: 2, maxConcurrent: 1)
        try scheduler.enqueue(.init(offset: 10, key: "a", payload: ()))
        XCTAssertThrowsError(try scheduler.enqueue(.init(offset: 10, key: "b", payload: ()))) { error in
            XCTAssertEqual(error as? ShardScheduler<Void>.EnqueueError, .outOfOrder(offset: 10, last: 10))
        }
        try scheduler.enqueue(.init(offset: 11, key: "b", payload: ()))
        XCTAssertThrowsError(try scheduler.enqueue(.init(offset: 12, key: "c", payload: ()))) { error in
            XCTAssertEqual(error as? ShardScheduler<Void>.EnqueueError, .full)
        }
        let first = try XCTUnwrap(scheduler.start())
        XCTAssertNil(scheduler.start(), "one at a time (maxConcurrent 1)")
        XCTAssertEqual(scheduler.committableOffset, 10)
        scheduler.finish(offset: first.offset, key: first.key)
        XCTAssertEqual(scheduler.committableOffset, 11)
        XCTAssertTrue(scheduler.hasRoom)
    }

    func testRetryBackoffGrowsWithJitterAndEndsInTheDeadLetters() {
        let policy = RetryPolicy(maxAttempts: 4, initialBackoffMilliseconds: 100, maxBackoffMilliseconds: 250)
        var random = SeededGenerator(seed: 7)
        for attempt in 1...3 {
            for _ in 0..<200 {
                guard case .retry(let delay) = policy.decision(afterAttempt: attempt, using: &random) else {
                    return XCTFail("attempt \(attempt) of 4 is retried")
                }
                XCTAssertTrue((0...min(250, 100 << (attempt - 1))).contains(Int(delay)), "attempt \(attempt): \(delay) ms")
            }
        }
        XCTAssertEqual(policy.decision(afterAttempt: 4, using: &random), .deadLetter)
        XCTAssertEqual(EmittedEventID.derive(inputID: "evt-1", agent: "a", index: 2), EmittedEventID.derive(inputID: "evt-1", agent: "a", index: 2))
        XCTAssertNotEqual(EmittedEventID.derive(inputID: "evt-1", agent: "a", index: 2), EmittedEventID.derive(inputID: "evt-1", agent: "a", index: 3))
        XCTAssertNotEqual(EmittedEventID.derive(inputID: "evt-1", agent: "a", index: 2), EmittedEventID.derive(inputID: "evt-1", agent: "b", index: 2))
    }

    func testExtraItemsRunInOrderWithTheirKeyOutsideTheOffsets() throws {
        var scheduler = ShardScheduler<String>(startOffset: 0, capacity: 2, maxConcurrent: 4)
        try scheduler.enqueue(.init(offset: 0, key: "a", payload: "event-0"))
        scheduler.enqueueExtra(.init(offset: -1, key: "a", payload: "timer"))
        try scheduler.enqueue(.init(offset: 1, key: "a", payload: "event-1"))
        XCTAssertFalse(scheduler.hasRoom, "extras do not take room from the inputs")
        XCTAssertEqual(scheduler.start()?.payload, "event-0")
        XCTAssertNil(scheduler.start(), "the key is busy")
        scheduler.finish(offset: 0, key: "a")
        XCTAssertEqual(scheduler.committableOffset, 1)
        XCTAssertEqual(scheduler.start()?.payload, "timer")
        scheduler.finish(offset: -1, key: "a")
        XCTAssertEqual(scheduler.committableOffset, 1, "an extra moves no offset")
        XCTAssertEqual(scheduler.start()?.payload, "event-1")
        scheduler.finish(offset: 1, key: "a")
        XCTAssertEqual(scheduler.committableOffset, 2)
    }

    func testDroppedEventsAreNeverCommittedPast() throws {
        var scheduler = ShardScheduler<String>(startOffset: 10, capacity: 8, maxConcurrent: 4)
        try scheduler.enqueue(.init(offset: 10, key: "a", payload: "running"))
        try scheduler.enqueue(.init(offset: 11, key: "a", payload: "waiting"))
        try scheduler.skip(offset: 12)
        try scheduler.enqueue(.init(offset: 13, key: "b", payload: "waiting too"))
        XCTAssertEqual(scheduler.start()?.offset, 10)
        XCTAssertEqual(scheduler.start()?.offset, 13)
        scheduler.finish(offset: 13, key: "b")
        XCTAssertEqual(scheduler.dropWaiting(), 1)
        scheduler.finish(offset: 10, key: "a")
        XCTAssertEqual(scheduler.committableOffset, 11, "the dropped event at 11 is the next owner's, not passed")
    }

    /// A released event frees its key for the next one (which may be released in turn) while its
    /// offset stays unfinished: the committable offset passes neither until each is finished, in
    /// any order, and a released key is busy (never passivated) until then.
    func testAReleasedEventFreesItsKeyButNotItsOffset() throws {
        var scheduler = ShardScheduler<String>(startOffset: 0, capacity: 8, maxConcurrent: 1)
        for offset in 0..<3 { try scheduler.enqueue(.init(offset: Int64(offset), key: "a", payload: "a-\(offset)")) }
        XCTAssertEqual(scheduler.start()?.offset, 0)
        XCTAssertNil(scheduler.start(), "one event of a key at a time")
        scheduler.release(offset: 0, key: "a")
        XCTAssertEqual(scheduler.runningCount, 0, "a released event does not count against maxConcurrent")
        XCTAssertEqual(scheduler.start()?.offset, 1)
        scheduler.release(offset: 1, key: "a")
        XCTAssertEqual(scheduler.releasedCount, 2)
        XCTAssertEqual(scheduler.committableOffset(finishing: 1, key: "a"), 0, "0 is unfinished below it")
        XCTAssertEqual(scheduler.committableOffset, 0)
        XCTAssertEqual(scheduler.start()?.offset, 2)
        scheduler.finish(offset: 1, key: "a")
        XCTAssertEqual(scheduler.committableOffset, 0)
        XCTAssertTrue(scheduler.isBusy("a"))
        scheduler.finish(offset: 0, key: "a")
        XCTAssertEqual(scheduler.committableOffset, 2)
        XCTAssertFalse(scheduler.hasReleased("a"))
        scheduler.finish(offset: 2, key: "a")
        XCTAssertEqual(scheduler.committableOffset, 3)
        XCTAssertFalse(scheduler.isBusy("a"))
        XCTAssertEqual(scheduler.count, 0)
    }
}
