import ClusterCore
import EventLog
import Foundation
import GanglionWire
import ZeroMQ

extension GanglionClient {
    /// Creates a topic; throws `.topicExists` when it exists.
    @discardableResult
    /// `replicationFactor` 0 lets the cluster choose (min(3, live nodes)); `minInSync` 0 means min(2, R).
    /// Events can be bound to a registry `subject` with `validation` `.id` or `.full` (the subject
    /// defaults to `<topic>-value`).
    public func createTopic(_ name: String, partitions: UInt32, retentionMilliseconds: Int64 = 0, compacted: Bool = false,
                            subject: String? = nil, validation: Ganglion_V1_SchemaValidation = .none,
                            replicationFactor: UInt32 = 0, minInSync: UInt32 = 0) async throws -> Ganglion_V1_TopicMetadata {
        var request = Ganglion_V1_CreateTopicRequest()
        request.config.replicationFactor = replicationFactor
        request.config.minInsyncReplicas = minInSync
        request.config.subject = subject ?? ""
        request.config.validation = validation
        request.name = name
        request.config.partitions = partitions
        request.config.retentionMs = retentionMilliseconds
        request.config.compacted = compacted
        return try await call(.createTopic, request, reply: Ganglion_V1_CreateTopicResponse.self).0.topic
    }

    /// A topic as its partitions' leaders know it: each partition's offsets and size from its
    /// leader (on a cluster of one, the node itself).
    public func describeTopic(_ name: String) async throws -> Ganglion_V1_TopicMetadata {
        var request = Ganglion_V1_MetadataRequest()
        request.topics = [name]
        let answer = try await call(.metadata, request, reply: Ganglion_V1_MetadataResponse.self).0
        guard var topic = answer.topics.first else { throw GanglionError(code: .unknownTopic, message: "topic \(name) does not exist") }
        connect(to: routes.learn(answer, answeredBy: true))
        let answering = answer.nodes.first?.id
        var fromLeaders: [String: Ganglion_V1_TopicMetadata] = [:]
        for (index, partition) in topic.partitions.enumerated() where !partition.leader.isEmpty && partition.leader != answering {
            if fromLeaders[partition.leader] == nil, let endpoint = answer.nodes.first(where: { $0.id == partition.leader })?.apiEndpoint {
                fromLeaders[partition.leader] = try? await call(.metadata, request, timeout: .seconds(2), to: endpoint,
                                                                reply: Ganglion_V1_MetadataResponse.self).0.topics.first
            }
            if let leaders = fromLeaders[partition.leader], Int(partition.partition) < leaders.partitions.count {
                let own = leaders.partitions[Int(partition.partition)]
                topic.partitions[index].logStartOffset = own.logStartOffset
                topic.partitions[index].highWatermark = own.highWatermark
                topic.partitions[index].sizeBytes = own.sizeBytes
            }
        }
        return topic
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

    /// Appends one encoded batch to a partition's leader; returns its base offset once the
    /// leader acknowledged it under `acks` (`.all`, the default: every in-sync replica holds it).
    /// A refusal that says the leader moved (`NOT_LEADER`, `FENCED_LEADER_EPOCH`, or the leader
    /// unreachable) — nothing was stored — is retried at the new leader until the client's timeout.
    @discardableResult
    public func produce(topic: String, partition: UInt32, batch: [UInt8], acks: Ganglion_V1_Acks = .all,
                        timeout: Duration? = nil) async throws -> Int64 {
        var request = Ganglion_V1_ProduceRequest()
        request.topic = topic
        request.partition = partition
        request.acks = acks
        let frame = Frame(batch), produce = request
        return try await routed(topic, partition, timeout: timeout) { node, remaining in
            try await self.call(.produce, produce, extra: frame, timeout: remaining, to: node, reply: Ganglion_V1_ProduceResponse.self).0.baseOffset
        }
    }

    /// Runs `attempt` against the partition's leader, following it when it moves, until `timeout`.
    func routed<T: Sendable>(_ topic: String, _ partition: UInt32, timeout: Duration?,
                             _ attempt: @Sendable (_ node: String?, _ remaining: Duration) async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now.advanced(by: timeout ?? self.timeout)
        var refresh = false
        while true {
            do {
                let route = try await leader(of: topic, partition: partition, refresh: refresh)
                return try await attempt(route.api, max(deadline - ContinuousClock.now, .milliseconds(1)))
            } catch let error as GanglionError where error.code == .timeout {
                // No answer in time (the leader paused, cut off, or gone): the outcome is unknown
                // and the caller decides; the next attempt asks where the leader is now.
                routes.forget(topic, partition)
                throw error
            } catch let error as GanglionError where Self.isStaleRoute(error) {
                routes.forget(topic, partition)
                refresh = true
                let pause = Duration.milliseconds(Int(min(max(error.retryAfterMilliseconds, 20), 200)))
                guard ContinuousClock.now.advanced(by: pause) < deadline else { throw error }
                try await Task.sleep(for: pause)
            }
        }
    }

    /// Appends one encoded batch without suspending the caller; `onAcknowledged` runs on the
    /// client's socket thread with the batch's base offset or the error. Sent to the partition's
    /// leader as last learned (the node the client was opened on when none is known); a
    /// `NOT_LEADER` answer is the caller's to retry (``leader(of:partition:refresh:)`` learns the new one).
    public func produce(topic: String, partition: UInt32, batch: [UInt8], acks: Ganglion_V1_Acks = .all,
                        onAcknowledged: @escaping @Sendable (Result<Int64, any Error>) -> Void) throws {
        var request = Ganglion_V1_ProduceRequest()
        request.topic = topic
        request.partition = partition
        request.acks = acks
        let routes = self.routes
        try send(.produce, request, extra: Frame(batch), to: routes.route(topic, partition)?.api) { result in
            if case .failure(let error) = result, Self.isStaleRoute(error) { routes.forget(topic, partition) }
            onAcknowledged(result.flatMap { frames in
                Result {
                    guard let first = frames.first else { throw GanglionError(code: .malformedRequest, message: "the reply has no body") }
                    return try first.withUnsafeBytes { try Ganglion_V1_ProduceResponse(inPlace: $0) }.baseOffset
                }
            })
        }
    }

    /// Publishes events: each goes to the partition of its key (murmur2, as Kafka) or, without a
    /// key, round-robin; one batch per partition. Returns each event's offset, in order.
    public func publish(topic: String, events: [EventEnvelope]) async throws -> [(partition: UInt32, offset: Int64)] {
        let described = try await describeTopic(topic)
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
        let fetch = request
        return try await routed(topic, partition, timeout: nil) { node, remaining in
            let (response, frames) = try await self.call(.fetch, fetch, timeout: remaining, to: node, reply: Ganglion_V1_FetchResponse.self)
            return (response, frames.first?.bytes ?? [])
        }
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
        let described: Ganglion_V1_TopicMetadata
        do { described = try await describeTopic(topic) } catch let error as GanglionError where error.code == .unknownTopic { return [] }
        var records: [Record] = []
        for partition in described.partitions where partition.highWatermark < 0 || partition.highWatermark > partition.logStartOffset {
            records += try await readAll(topic: topic, partition: partition.partition, from: try await logStart(of: partition, topic: topic))
        }
        return records
    }

    /// Where `partition` of `topic` starts: as described, or (unknown there, -1: no leader
    /// answered the description) asked of its leader, which throws while it has none.
    public func logStart(of partition: Ganglion_V1_PartitionMetadata, topic: String) async throws -> Int64 {
        guard partition.logStartOffset < 0 else { return partition.logStartOffset }
        return try await listOffsets(topic: topic, partitions: [partition.partition], timestamp: -2).first?.offset ?? 0
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
