import ClusterCore
import ClusterRuntime
import Foundation
import XCTest

/// The shard's exactly-once guarantees under the schedules that broke them (issue 14): a slow key
/// pinning the committed offset across a restart, a handler that ignores cancellation, and a
/// drain that outlives its timeout.
final class ShardExactlyOnceTests: XCTestCase {
    private func shard(_ io: MemoryShardIO, _ handler: ScriptedHandler, capacity: Int = 2048, maxConcurrent: Int = 4) -> AgentShard {
        AgentShard(handler: handler, io: io, partition: 0, capacity: capacity, maxConcurrent: maxConcurrent)
    }

    /// Guarantee 1: key A hangs at offset 0 while 1 000 events of key B are handled; the shard
    /// restarts and the partition is redelivered from the pinned offset. No event of B runs again
    /// (the window of remembered ids is 64: the offsets handled above the committed one decide).
    func testAHandledEventNeverRunsAgainWhenASlowKeyPinsTheCommittedOffset() async throws {
        let io = MemoryShardIO()
        let seen = SeenIDs()
        let handler = ScriptedHandler(retryPolicy: RetryPolicy(maxAttempts: 1, attemptDeadlineMilliseconds: 600_000)) { attempt in
            seen.add(attempt.event.id)
            if attempt.key == "A" { try await Task.sleep(for: .seconds(600)) }
            return ScriptedHandler.counted(attempt)
        }
        var inputs = [try shardInput("a-0", key: "A", offset: 0)]
        for index in 1...1000 { inputs.append(try shardInput("b-\(index)", key: "B", offset: Int64(index))) }
        let first = shard(io, handler)
        try await first.recover()
        try await first.submit(inputs)
        let handled = await eventually(120) { ScriptedHandler.count(await first.changelog.states["B"]) == 1000 }
        XCTAssertTrue(handled, "B's 1 000 events are handled while A hangs")
        let pinned = await first.committableOffset
        XCTAssertEqual(pinned, 0, "key A pins the committed offset")
        await first.stop()

        // The restart: redelivered from the committed offset, with one new event of B.
        let second = shard(io, handler)
        try await second.recover()
        inputs.append(try shardInput("b-1001", key: "B", offset: 1001))
        try await second.submit(inputs)
        let caughtUp = await eventually(120) { await second.changelog.outcome(ofHandled: "b-1001", key: "B") != nil }
        XCTAssertTrue(caughtUp, "the new event of B is handled")
        let count = ScriptedHandler.count(await second.changelog.states["B"])
        XCTAssertEqual(count, 1001, "each event of B counted once")
        let rerun = (1...1000).filter { seen.count("b-\($0)") > 1 }
        XCTAssertEqual(rerun.count, 0, "handled events of B ran again: \(rerun.prefix(5))…")
        await second.stop()
    }

    /// Guarantee 2: a handler that ignores cancellation (it blocks its thread) loses its key at the
    /// deadline plus the grace: the attempt counts as failed, the retry succeeds, the key's next
    /// event runs, and the abandoned attempt's late result never writes state or emits.
    func testAHandlerThatIgnoresCancellationLosesItsKeyAndItsLateResultIsDiscarded() async throws {
        let io = MemoryShardIO()
        let latch = ThreadLatch()
        let returned = SeenIDs()
        let policy = RetryPolicy(maxAttempts: 3, initialBackoffMilliseconds: 1, maxBackoffMilliseconds: 5, attemptDeadlineMilliseconds: 300)
        let handler = ScriptedHandler(retryPolicy: policy) { attempt in
            if attempt.event.id == "hang" && attempt.attempt == 1 {
                latch.block(upTo: 60)
                returned.add("late")
                return ScriptedHandler.counted(attempt, tag: "late")
            }
            return ScriptedHandler.counted(attempt)
        }
        let shard = shard(io, handler, capacity: 8, maxConcurrent: 2)
        try await shard.recover()
        try await shard.submit([try shardInput("hang", key: "K", offset: 0), try shardInput("next", key: "K", offset: 1)])
        let moved = await eventually(30) { await shard.changelog.outcome(ofHandled: "next", key: "K") != nil }
        latch.open()
        XCTAssertTrue(moved, "the key moves on past the hung attempt")
        let late = await eventually(60) { returned.count("late") == 1 }
        XCTAssertTrue(late, "the abandoned attempt returned")
        try await Task.sleep(for: .milliseconds(500))  // room for a wrong write of the late result
        let count = ScriptedHandler.count(await shard.changelog.states["K"])
        XCTAssertEqual(count, 2, "each event counted once, the late result not at all")
        let committable = await shard.committableOffset
        XCTAssertEqual(committable, 2)
        XCTAssertFalse(io.changelog.contains { String(decoding: $0.value ?? [], as: UTF8.self).contains("countedlate") },
                       "the late attempt's emitted event never reaches the changelog")
        XCTAssertFalse(io.sentEvents.contains { String(decoding: $0.value, as: UTF8.self).contains("countedlate") })
        await shard.stop()
    }

    /// Guarantee 4: a revoked shard whose running handler ignores cancellation (and whose deadline
    /// is far off) leaves within its drain timeout, having made durable what finished; the next
    /// owner handles the abandoned event and skips the handled ones, and the late result is lost.
    func testADrainThatOutlivesItsTimeoutAbandonsTheHungHandler() async throws {
        let io = MemoryShardIO()
        let latch = ThreadLatch()
        let nextOwner = ThreadLatch()
        let seen = SeenIDs()
        let handler = ScriptedHandler(retryPolicy: RetryPolicy(maxAttempts: 1, attemptDeadlineMilliseconds: 600_000)) { attempt in
            seen.add(attempt.event.id)
            if attempt.key == "A" && !nextOwner.isOpen { latch.block(upTo: 120) }
            return ScriptedHandler.counted(attempt)
        }
        let inputs = [try shardInput("a-0", key: "A", offset: 0), try shardInput("b-1", key: "B", offset: 1), try shardInput("b-2", key: "B", offset: 2)]
        let first = shard(io, handler)
        try await first.recover()
        try await first.submit(inputs)
        let handled = await eventually(30) { ScriptedHandler.count(await first.changelog.states["B"]) == 2 }
        XCTAssertTrue(handled)
        let drained = ThreadLatch()
        Task {
            await first.drain()
            drained.open()
        }
        let left = await eventually(30) { drained.isOpen }
        XCTAssertTrue(left, "the drain ends although the handler never returns")
        let committable = await first.committableOffset
        XCTAssertEqual(committable, 0, "the abandoned event stays unfinished")

        nextOwner.open()
        let second = shard(io, handler)
        try await second.recover()
        try await second.submit(inputs)
        let done = await eventually(30) { await second.committableOffset == 3 }
        XCTAssertTrue(done, "the next owner handles the abandoned event")
        XCTAssertEqual(seen.count("b-1"), 1, "handled before the drain: not again")
        XCTAssertEqual(seen.count("b-2"), 1)
        latch.open()
        try await Task.sleep(for: .milliseconds(500))  // room for a wrong write of the late result
        var replayed = ShardChangelog()
        replayed.apply(io.changelog)
        XCTAssertEqual(ScriptedHandler.count(replayed.states["A"]), 1, "the abandoned attempt's late result is discarded")
        XCTAssertEqual(ScriptedHandler.count(replayed.states["B"]), 2)
        await second.stop()
    }
}
