import ClusterCore
import ClusterRuntime
import Foundation
import XCTest

/// A key's next event starts once the last one's changes are queued for the changelog, before
/// they are durable (``ShardChangelog/queue(_:)``): events of one hot key are not held to one
/// changelog round trip each, and every guarantee still holds.
final class ShardPipeliningTests: XCTestCase {
    /// Changelog appends wait while `isOpen` is false.
    final class HeldShardIO: ShardIO, @unchecked Sendable {
        let memory = MemoryShardIO()
        // `opened` is guarded by `lock`.
        private let lock = NSLock()
        private var opened = true
        var isOpen: Bool {
            get { lock.withLock { opened } }
            set { lock.withLock { opened = newValue } }
        }
        func readChangelog(partition: UInt32, from offset: Int64) async throws -> [ShardChangelog.Record] {
            try await memory.readChangelog(partition: partition, from: offset)
        }
        func changelogRecords(partition: UInt32, at offset: Int64) async throws -> [ShardChangelog.Record] {
            try await memory.changelogRecords(partition: partition, at: offset)
        }
        func appendChangelog(partition: UInt32, batch: [UInt8]) async throws -> Int64 {
            while !isOpen { try await Task.sleep(for: .milliseconds(2)) }
            return try await memory.appendChangelog(partition: partition, batch: batch)
        }
        func initWriter(resuming producerID: Int64?) async throws -> (id: Int64, epoch: Int16) { try await memory.initWriter(resuming: producerID) }
        func send(_ events: [OutgoingEvent]) async throws { try await memory.send(events) }
    }

    /// Five events of one key, and a redelivery of the second with a new offset, while no batch
    /// can be written: each of the five runs once, from the state the one before left; the
    /// redelivery runs nothing. Once the changelog takes the batches, all six offsets are
    /// finished, the key counts five, and five events are emitted.
    func testAKeysNextEventRunsBeforeTheLastOnesBatchIsDurable() async throws {
        let io = HeldShardIO()
        let seen = SeenIDs()
        let handler = ScriptedHandler(retryPolicy: RetryPolicy(maxAttempts: 1)) { attempt in
            seen.add(attempt.event.id)
            return ScriptedHandler.counted(attempt)
        }
        let shard = AgentShard(handler: handler, io: io, partition: 0, capacity: 64, maxConcurrent: 4)
        try await shard.recover()
        io.isOpen = false
        var inputs = try (0..<5).map { try shardInput("k-\($0)", key: "K", offset: Int64($0)) }
        inputs.append(try shardInput("k-1", key: "K", offset: 5))
        try await shard.submit(inputs)
        let ran = await eventually(30) { (0..<5).allSatisfy { seen.count("k-\($0)") == 1 } }
        XCTAssertTrue(ran, "the key's five events ran while no batch was durable")
        let before = await shard.committableOffset
        XCTAssertEqual(before, 0, "nothing is committable before its batch is durable")
        io.isOpen = true
        let done = await eventually(30) { await shard.committableOffset == 6 }
        XCTAssertTrue(done, "every offset is finished once the batches are written")
        let count = ScriptedHandler.count(await shard.changelog.states["K"])
        XCTAssertEqual(count, 5)
        XCTAssertEqual(seen.count("k-1"), 1, "the redelivery ran nothing")
        let emitted = await eventually(30) { Set(io.memory.sentEvents.map(\.value)).count == 5 }
        XCTAssertTrue(emitted, "five events emitted, each once: \(io.memory.sentEvents.count) sent")
        await shard.stop()
    }
}
