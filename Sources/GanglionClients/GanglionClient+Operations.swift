import ClusterCore
import EventLog
import Foundation
import GanglionWire
import ZeroMQ

extension GanglionClient {
    /// Creates a topic; throws `.topicExists` when it exists.
    @discardableResult
    /// Events can be bound to a registry `subject` with `validation` `.id` or `.full` (the subject
    /// defaults to `<topic>-value`).
    public func createTopic(_ name: String, partitions: UInt32, retentionMilliseconds: Int64 = 0, compacted: Bool = false,
                            subject: String? = nil, validation: Ganglion_V1_SchemaValidation = .none) async throws -> Ganglion_V1_TopicMetadata {
        var request = Ganglion_V1_CreateTopicRequest()
        request.config.subject = subject ?? ""
        request.config.validation = validation
        request.name = name
        request.config.partitions = partitions
        request.config.retentionMs = retentionMilliseconds
        request.config.compacted = compacted
        return try await call(.createTopic, request, reply: Ganglion_V1_CreateTopicResponse.self).0.topic
    }

    /// Deletes a topic and its data.
    public func deleteTopic(_ name: String) async throws {
        var request = Ganglion_V1_DeleteTopicRequest()
        request.name = name
        _ = try await call(.deleteTopic, request)
    }

    /// The controller and every node, as the answering node knows them.
    public func clusterStatus(timeout: Duration? = nil) async throws -> Ganglion_V1_ClusterStatusResponse {
        try await call(.clusterStatus, Ganglion_V1_ClusterStatusRequest(), timeout: timeout, reply: Ganglion_V1_ClusterStatusResponse.self).0
    }

    /// The cluster's nodes and the named topics (all when empty).
    public func metadata(topics: [String] = []) async throws -> Ganglion_V1_MetadataResponse {
        var request = Ganglion_V1_MetadataRequest()
        request.topics = topics
        return try await call(.metadata, request, reply: Ganglion_V1_MetadataResponse.self).0
    }

    /// Appends one encoded batch to a partition; returns its base offset once the node
    /// acknowledged it (stored under the node's durability policy).
    @discardableResult
    public func produce(topic: String, partition: UInt32, batch: [UInt8]) async throws -> Int64 {
        var request = Ganglion_V1_ProduceRequest()
        request.topic = topic
        request.partition = partition
        request.acks = .leader
        return try await call(.produce, request, extra: Frame(batch), reply: Ganglion_V1_ProduceResponse.self).0.baseOffset
    }

    /// Appends one encoded batch without suspending the caller; `onAcknowledged` runs on the
    /// client's socket thread with the batch's base offset or the error.
    public func produce(topic: String, partition: UInt32, batch: [UInt8],
                        onAcknowledged: @escaping @Sendable (Result<Int64, any Error>) -> Void) throws {
        var request = Ganglion_V1_ProduceRequest()
        request.topic = topic
        request.partition = partition
        request.acks = .leader
        try send(.produce, request, extra: Frame(batch)) { result in
            onAcknowledged(result.flatMap { frames in
                Result {
                    guard let first = frames.first else { throw GanglionError(code: .malformedRequest, message: "the reply has no body") }
                    return try first.withUnsafeBytes { try Ganglion_V1_ProduceResponse(serializedBytes: Data($0)) }.baseOffset
                }
            })
        }
    }

    /// Publishes events: each goes to the partition of its key (murmur2, as Kafka) or, without a
    /// key, round-robin; one batch per partition. Returns each event's offset, in order.
    public func publish(topic: String, events: [EventEnvelope]) async throws -> [(partition: UInt32, offset: Int64)] {
        let metadata = try await self.metadata(topics: [topic])
        guard let described = metadata.topics.first else {
            throw GanglionError(code: .unknownTopic, message: "topic \(topic) does not exist")
        }
        let partitions = Int32(described.config.partitions)
        var batches: [UInt32: (RecordBatchBuilder, [Int])] = [:]
        for (index, event) in events.enumerated() {
            let partition = event.key.isEmpty ? UInt32(index % Int(partitions))
                : UInt32(KeyPartitioner.partition(for: event.key, partitionCount: partitions))
            var entry = batches[partition] ?? (RecordBatchBuilder(), [])
            let timestamp = event.hasTime ? event.time.seconds * 1000 + Int64(event.time.nanos / 1_000_000) : Int64(Date().timeIntervalSince1970 * 1000)
            entry.0.append(key: event.key.isEmpty ? nil : Array(event.key), value: try event.serializedBytes(), timestamp: timestamp)
            entry.1.append(index)
            batches[partition] = entry
        }
        var offsets = [(partition: UInt32, offset: Int64)](repeating: (0, -1), count: events.count)
        for (partition, (builder, indexes)) in batches {
            let base = try await produce(topic: topic, partition: partition, batch: builder.build())
            for (position, index) in indexes.enumerated() { offsets[index] = (partition, base + Int64(position)) }
        }
        return offsets
    }

    /// Whole batches from `offset`, and where to continue.
    public func fetch(topic: String, partition: UInt32, offset: Int64, maxBytes: UInt32 = 1 << 20) async throws -> (Ganglion_V1_FetchResponse, [UInt8]) {
        var request = Ganglion_V1_FetchRequest()
        request.topic = topic
        request.partition = partition
        request.offset = offset
        request.maxBytes = maxBytes
        let (response, frames) = try await call(.fetch, request, reply: Ganglion_V1_FetchResponse.self)
        return (response, frames.first?.bytes ?? [])
    }
}

extension GanglionClient {
    /// Every stored record of one partition from `offset` up to its high watermark now (tools,
    /// recovery of a shard's changelog); the serving path streams instead.
    public func readAll(topic: String, partition: UInt32, from offset: Int64 = 0) async throws -> [Record] {
        var records: [Record] = []
        var next = offset
        while true {
            let (response, bytes) = try await fetch(topic: topic, partition: partition, offset: next)
            let batch = try PartitionStream.records(in: bytes, base: nil)
            records += batch
            if batch.isEmpty || response.nextOffset <= next || response.nextOffset >= response.highWatermark { return records }
            next = response.nextOffset
        }
    }

    /// Every stored record of every partition of `topic` (partition by partition); empty when the
    /// topic does not exist.
    public func readAll(topic: String) async throws -> [Record] {
        guard let described = try await metadata(topics: [topic]).topics.first else { return [] }
        var records: [Record] = []
        for partition in described.partitions where partition.highWatermark > partition.logStartOffset {
            records += try await readAll(topic: topic, partition: partition.partition, from: partition.logStartOffset)
        }
        return records
    }

    /// A new idempotent producer id with epoch 0, or (with `resuming`) the next epoch of an
    /// issued one, fencing its older instances.
    public func initProducerID(resuming producerID: Int64? = nil) async throws -> (id: Int64, epoch: Int16) {
        var request = Ganglion_V1_InitProducerIdRequest()
        request.producerID = producerID ?? 0
        let response = try await call(.initProducerID, request, reply: Ganglion_V1_InitProducerIdResponse.self).0
        return (response.producerID, Int16(response.producerEpoch))
    }
}
