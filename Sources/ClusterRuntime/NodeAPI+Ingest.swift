import ClusterCore
import EventLog
import Foundation
import GanglionWire

/// Where one event of an HTTP ingest request was stored.
public struct StoredEvent: Sendable, Hashable, Codable {
    /// The event's id.
    public var id: String
    /// The partition of the topic it went to.
    public var partition: UInt32
    /// Its offset in that partition.
    public var offset: Int64

    /// An event `id` stored at `partition`, `offset`.
    public init(id: String, partition: UInt32, offset: Int64) {
        self.id = id
        self.partition = partition
        self.offset = offset
    }
}

/// Events refused part-way: some partitions' batches were stored before another failed.
struct PartialIngestFailure: Error {
    let failure: ProtocolFailure
    let stored: [StoredEvent]
}

extension NodeAPI {
    /// Stores `events` on `topic` through the ordinary produce path (``store(_:topic:partition:acks:)``:
    /// framing, CRC, schema validation, the live stream), one batch per partition, and returns
    /// where each event went once every batch is acknowledged. Events with a key go to the key's
    /// partition (murmur2, as the producer); those without share one partition chosen at random
    /// for the request (the producer's sticky choice). On a topic bound to a subject, every batch
    /// is validated before any is stored, so a violation stores nothing.
    func ingest(_ events: [EventEnvelope], topic: String) async throws -> [StoredEvent] {
        guard let configuration = metadata.state.topics[topic] else {
            throw ProtocolFailure(.unknownTopic, "topic \(topic) does not exist; create it with `ganglion topic create \(topic)`")
        }
        guard !events.isEmpty else { return [] }
        let partitions = configuration.partitions
        let keyless = UInt32.random(in: 0..<UInt32(max(1, partitions)))
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var builders: [UInt32: RecordBatchBuilder] = [:]
        var members: [UInt32: [Int]] = [:]
        for (index, event) in events.enumerated() {
            let key = event.key.isEmpty ? nil : Array(event.key)
            let partition = key.map { UInt32(KeyPartitioner.partition(for: $0, partitionCount: partitions)) } ?? keyless
            let timestamp = event.hasTime ? event.time.seconds * 1000 + Int64(event.time.nanos / 1_000_000) : now
            builders[partition, default: RecordBatchBuilder()].append(key: key, value: try event.serializedBytes(), timestamp: timestamp)
            members[partition, default: []].append(index)
        }
        let batches = builders.map { (partition: $0.key, bytes: $0.value.build()) }
        if batches.count > 1, let subject = configuration.subject, let mode = configuration.validation, mode != .none {
            for batch in batches {
                try batch.bytes.withUnsafeBytes { try validate($0, topic: topic, subject: subject, full: mode == .full) }
            }
        }
        let outcomes = await withTaskGroup(of: (UInt32, Result<Int64, any Error>).self) { group in
            for (partition, bytes) in batches {
                group.addTask {
                    // The await has a statement of its own: Swift 6.3.1 at -O returned 0 for the first
                    // element of `return (captured.partition, try await …)` in a child task.
                    do {
                        let base = try await self.store(bytes, topic: topic, partition: partition, acks: .all)
                        return (partition, .success(base))
                    } catch {
                        return (partition, .failure(error))
                    }
                }
            }
            var outcomes: [UInt32: Result<Int64, any Error>] = [:]
            for await (partition, outcome) in group { outcomes[partition] = outcome }
            return outcomes
        }
        var stored: [StoredEvent?] = Array(repeating: nil, count: events.count)
        var failure: ProtocolFailure?
        for (partition, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
            switch outcome {
            case .success(let base):
                for (position, index) in (members[partition] ?? []).enumerated() {
                    stored[index] = StoredEvent(id: events[index].id, partition: partition, offset: base + Int64(position))
                }
            case .failure(let error):
                failure = failure ?? (error as? ProtocolFailure) ?? ProtocolFailure(.internal, "\(error)")
            }
        }
        if let failure {
            let kept = stored.compactMap { $0 }
            guard kept.isEmpty else { throw PartialIngestFailure(failure: failure, stored: kept) }
            throw failure
        }
        return stored.compactMap { $0 }
    }

    /// The ids of events from `source` stored on `topic` at or after `notBefore` (ms), reading at
    /// most the last `perPartition` records of each partition — what a webhook's duplicate check
    /// remembers across a restart.
    func recentEventIDs(topic: String, source: String, notBefore: Int64, perPartition: Int) -> [String] {
        guard let configuration = metadata.state.topics[topic] else { return [] }
        var ids: [String] = []
        for index in 0..<configuration.partitions {
            guard let log = try? logs.log(TopicPartition(topic, index), configuration: configuration) else { continue }
            let start = max(log.logStartOffset, log.highWatermark - Int64(perPartition))
            guard let records = try? log.records(from: start) else { continue }
            for record in records where record.timestamp >= notBefore {
                guard let value = record.value, let event = try? EventEnvelope(serializedBytes: value), event.source == source else { continue }
                ids.append(event.id)
            }
        }
        return ids
    }
}

extension Node {
    /// Stores `events` on `topic` as a PRODUCE would (the same checks, schema validation against
    /// the topic's subject, the live stream) and returns where each went once acknowledged.
    /// Throws ``NodeError``: `UNKNOWN_TOPIC`, `SCHEMA_VIOLATION` (nothing stored), … — when some
    /// partitions' batches were stored before another failed, the message lists them.
    public func ingest(topic: String, events: [EventEnvelope]) async throws -> [StoredEvent] {
        do {
            return try await api.ingest(events, topic: topic)
        } catch let failure as ProtocolFailure {
            throw NodeError(code: failure.code, message: failure.message)
        } catch let partial as PartialIngestFailure {
            let list = partial.stored.map { "\($0.id) at \($0.partition):\($0.offset)" }.joined(separator: ", ")
            throw NodeError(code: partial.failure.code,
                            message: "\(partial.failure.message); \(partial.stored.count) of the events were stored before the failure: \(list)")
        }
    }

    /// Ids of events from `source` on `topic` no older than `notBefore` (ms since the epoch),
    /// from at most the last `perPartition` records of each partition.
    func recentEventIDs(topic: String, source: String, notBefore: Int64, perPartition: Int) -> [String] {
        api.recentEventIDs(topic: topic, source: source, notBefore: notBefore, perPartition: perPartition)
    }
}
