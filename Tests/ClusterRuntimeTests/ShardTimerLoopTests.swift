import ClusterCore
import ClusterRuntime
import Foundation
import XCTest

/// A shard's timer loop sleeps while nothing is due, and a timer scheduled meanwhile still fires
/// on time: the loop looked for due timers every 50 ms whatever there was, so an idle node with
/// the demo agents (about 18 shards) woke hundreds of times a second doing nothing.
final class ShardTimerLoopTests: XCTestCase {
    private func shard(_ io: MemoryShardIO, _ handler: ScriptedHandler) -> AgentShard {
        AgentShard(handler: handler, io: io, partition: 0, capacity: 64, maxConcurrent: 4)
    }

    func testAnIdleShardsTimerLoopSleeps() async throws {
        let handler = ScriptedHandler(retryPolicy: RetryPolicy(maxAttempts: 1)) { ScriptedHandler.counted($0) }
        let shard = shard(MemoryShardIO(), handler)
        try await shard.recover()
        defer { Task { await shard.stop() } }
        try await Task.sleep(for: .milliseconds(300))
        let before = await shard.timerChecks
        try await Task.sleep(for: .seconds(2))
        let checks = await shard.timerChecks - before
        XCTAssertLessThanOrEqual(checks, 3, "an idle shard with no timers looked for due ones \(checks) times in 2 s")
    }

    /// The loop sleeps past the timer's time when it went to sleep: scheduling the timer wakes it.
    func testATimerScheduledWhileTheLoopSleepsFiresOnTime() async throws {
        let fired = SeenIDs()
        let handler = ScriptedHandler(retryPolicy: RetryPolicy(maxAttempts: 1)) { attempt in
            if let timer = attempt.timer {
                fired.add(timer)
                return ShardHandlerResult(newState: nil, emitted: [], outcome: [], timerChanges: [])
            }
            var result = ScriptedHandler.counted(attempt)
            result.timerChanges = [.schedule(name: "soon", fireAt: Int64(Date().timeIntervalSince1970 * 1000) + 50, data: [])]
            return result
        }
        let shard = shard(MemoryShardIO(), handler)
        try await shard.recover()
        defer { Task { await shard.stop() } }
        try await Task.sleep(for: .milliseconds(300))  // the loop is asleep, nothing due
        let submitted = ContinuousClock.now
        try await shard.submit([try shardInput("e-1", key: "k", offset: 0)])
        let onTime = await eventually(5) { fired.count("soon") == 1 }
        let took = ContinuousClock.now - submitted
        XCTAssertTrue(onTime, "the timer fired")
        XCTAssertLessThan(took, .milliseconds(700), "a timer due 50 ms after its event fired \(took) after it")
        try await Task.sleep(for: .milliseconds(200))
        XCTAssertEqual(fired.count("soon"), 1, "fired once")
    }
}
