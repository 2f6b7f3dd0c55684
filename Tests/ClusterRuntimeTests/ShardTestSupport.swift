import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import GanglionWire

/// A shard's changelog and emitted events in memory: appends decode the batch and give its records
/// offsets, as a partition would (no epochs: the tests here fence nothing through the log).
final class MemoryShardIO: ShardIO, @unchecked Sendable {
    // `records`, `sent` and `epoch` are guarded by `lock`.
    private let lock = NSLock()
    private var records: [ShardChangelog.Record] = []
    private var sent: [OutgoingEvent] = []
    private var epoch: Int16 = 0

    /// Every changelog record, in log order.
    var changelog: [ShardChangelog.Record] { lock.withLock { records } }
    /// Every emitted event sent, in order.
    var sentEvents: [OutgoingEvent] { lock.withLock { sent } }

    func readChangelog(partition: UInt32, from offset: Int64) async throws -> [ShardChangelog.Record] {
        lock.withLock { records.filter { ($0.offset ?? 0) >= offset } }
    }

    func changelogRecords(partition: UInt32, at offset: Int64) async throws -> [ShardChangelog.Record] {
        lock.withLock { Array(records.filter { ($0.offset ?? -1) >= offset }.prefix(16)) }
    }

    func appendChangelog(partition: UInt32, batch: [UInt8]) async throws -> Int64 {
        let decoded = try RecordDecoder.records(inBatches: batch)
        return lock.withLock {
            let base = Int64(records.count)
            for (index, record) in decoded.enumerated() {
                records.append(ShardChangelog.Record(key: record.key ?? [], value: record.value, offset: base + Int64(index)))
            }
            return base
        }
    }

    func initWriter(resuming producerID: Int64?) async throws -> (id: Int64, epoch: Int16) {
        lock.withLock {
            epoch += 1
            return (producerID ?? 1, epoch)
        }
    }

    func send(_ events: [OutgoingEvent]) async throws { lock.withLock { sent += events } }
}

/// A handler whose attempts a test scripts: counts events per key in its state (a decimal).
struct ScriptedHandler: ShardHandler {
    let name = "scripted"
    let topic = "in"
    let retryPolicy: RetryPolicy
    let script: @Sendable (ShardAttempt) async throws -> ShardHandlerResult

    func accepts(_ event: EventEnvelope) async throws -> Bool { true }
    func handle(_ attempt: ShardAttempt) async throws -> ShardHandlerResult { try await script(attempt) }

    /// The count in a key's state.
    static func count(_ state: [UInt8]?) -> Int { state.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0 }

    /// The result that counts one more event and emits one event named after the input.
    static func counted(_ attempt: ShardAttempt, tag: String = "") -> ShardHandlerResult {
        var emitted = EventEnvelope()
        emitted.id = EmittedEventID.derive(inputID: attempt.event.id, agent: "scripted", index: 0)
        emitted.type = "counted" + tag
        emitted.key = attempt.event.key
        return ShardHandlerResult(newState: .some(Array(String(count(attempt.state) + 1).utf8)),
                                  emitted: [EmittedEvent(topic: "out", event: emitted)], outcome: Array(tag.utf8), timerChanges: [])
    }
}

/// An input record: an event with `id` for `key`.
func shardInput(_ id: String, key: String, offset: Int64) throws -> ShardInput {
    var event = EventEnvelope()
    event.id = id
    event.type = "item"
    event.key = Data(key.utf8)
    return ShardInput(topic: "in", offset: offset, value: try event.serializedBytes())
}

/// Ids seen by handler attempts, across tasks.
final class SeenIDs: @unchecked Sendable {
    // `ids` is guarded by `lock`.
    private let lock = NSLock()
    private var ids: [String] = []

    func add(_ id: String) { lock.withLock { ids.append(id) } }
    func count(_ id: String) -> Int { lock.withLock { ids.filter { $0 == id }.count } }
    var all: [String] { lock.withLock { ids } }
}

/// Polls `condition` every 20 ms for up to `seconds` (generous: the machine is shared).
func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// A gate a handler blocks a thread on, ignoring cancellation (as `Thread.sleep` or a blocking C
/// call would), until it is opened or `seconds` pass.
final class ThreadLatch: @unchecked Sendable {
    // `opened` is guarded by `lock`.
    private let lock = NSLock()
    private var opened = false

    var isOpen: Bool { lock.withLock { opened } }
    func open() { lock.withLock { opened = true } }

    func block(upTo seconds: Double) {
        let end = Date().addingTimeInterval(seconds)
        while !isOpen && Date() < end { Thread.sleep(forTimeInterval: 0.01) }
    }
}
