import ClusterCore
import ClusterRuntime
import Foundation
import XCTest

/// The highest number of handlers seen running at once.
private final class Concurrency: @unchecked Sendable {
    // Both are guarded by `lock`.
    private let lock = NSLock()
    private var running = 0
    private(set) var highest = 0

    func enter() { lock.withLock { running += 1; highest = max(highest, running) } }
    func leave() { lock.withLock { running -= 1 } }
    var peak: Int { lock.withLock { highest } }
}

/// A host's handler budget (``HandlerSlots``): however many shards and keys are ready, no more
/// handlers than the budget run at once, and every event is still handled.
final class HandlerSlotsTests: XCTestCase {
    func testTheShardsOfAHostRunNoMoreHandlersAtOnceThanItsBudget() async throws {
        let concurrency = Concurrency()
        let handler = ScriptedHandler(retryPolicy: RetryPolicy(maxAttempts: 1, attemptDeadlineMilliseconds: 5_000)) { attempt in
            concurrency.enter()
            defer { concurrency.leave() }
            try await Task.sleep(for: .milliseconds(20))
            return ScriptedHandler.counted(attempt)
        }
        let slots = HandlerSlots(limit: 3)
        let ios = [MemoryShardIO(), MemoryShardIO()]
        var shards: [AgentShard] = []
        for (partition, io) in ios.enumerated() {
            let shard = AgentShard(handler: handler, io: io, partition: UInt32(partition), capacity: 512, maxConcurrent: 16, slots: slots)
            try await shard.recover()
            shards.append(shard)
        }
        for (index, shard) in shards.enumerated() {
            try await shard.submit((0..<40).map { try shardInput("e\(index)-\($0)", key: "k\($0 % 20)", offset: Int64($0)) })
        }
        var done = false
        for _ in 0..<500 {
            var committed: Int64 = 0
            for shard in shards { committed += await shard.committableOffset }
            if committed == 80 { done = true; break }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertTrue(done, "every event handled")
        XCTAssertEqual(concurrency.peak, 3, "16 keys ready per shard, 2 shards, a budget of 3")
    }
}
