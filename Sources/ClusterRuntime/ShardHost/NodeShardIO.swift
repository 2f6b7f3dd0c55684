import ClusterCore
import EventLog
import Foundation
import GanglionWire

/// A shard's reads and writes straight on this node's logs, for agents hosted in the node's own
/// process (``AgentShard``): no socket between a shard and its changelog. Appends still take the
/// node's produce path — validation, durability policy, the live stream — and the writer's epoch
/// is the node's producer registry, as over the protocol.
public struct NodeShardIO: ShardIO {
    let api: NodeAPI
    let changelogTopic: String

    /// The reads and writes of the shards whose changelog is `changelogTopic`, on `node`.
    public init(node: Node, changelogTopic: String) {
        api = node.api
        self.changelogTopic = changelogTopic
    }

    /// The changelog partition's records from `offset` on.
    public func readChangelog(partition: UInt32, from offset: Int64) async throws -> [ShardChangelog.Record] {
        try await refusals {
            let (_, log, _) = try api.lookup(changelogTopic, partition)
            guard offset < log.logEndOffset else { return [] }
            return try log.records(from: max(offset, log.logStartOffset)).filter { $0.offset >= offset }
                .map { ShardChangelog.Record(key: $0.key ?? [], value: $0.value, offset: $0.offset) }
        }
    }

    /// The changelog records of one read (up to 256 KiB) from `offset`.
    public func changelogRecords(partition: UInt32, at offset: Int64) async throws -> [ShardChangelog.Record] {
        try await refusals {
            let (_, log, _) = try api.lookup(changelogTopic, partition)
            guard offset >= log.logStartOffset, offset < log.logEndOffset else {
                throw NodeError(code: .offsetOutOfRange, message: "offset \(offset) is outside \(changelogTopic)[\(partition)] (\(log.logStartOffset)..<\(log.logEndOffset))")
            }
            let read = try log.read(from: offset, maxBytes: 256 << 10)
            return try RecordDecoder.records(inBatches: read.bytes).filter { $0.offset >= offset }
                .map { ShardChangelog.Record(key: $0.key ?? [], value: $0.value, offset: $0.offset) }
        }
    }

    /// Appends through the node's produce path; returns the batch's first offset once durable.
    public func appendChangelog(partition: UInt32, batch: [UInt8]) async throws -> Int64 {
        try await refusals { try await api.store(batch, topic: changelogTopic, partition: partition) }
    }

    /// The writer's producer id and next epoch, from the node's producer registry.
    public func initWriter(resuming producerID: Int64?) async throws -> (id: Int64, epoch: Int16) {
        var request = Ganglion_V1_InitProducerIdRequest()
        request.producerID = producerID ?? 0
        let response = try await refusals { try await api.initProducer(request) }
        return (response.producerID, Int16(response.producerEpoch))
    }

    /// Appends emitted events to their topics (the partition of the key's murmur2, as a
    /// producer picks it; a random one without a key) in the order they were emitted: each run
    /// of consecutive events to one partition is one or more batches (at most 1 MiB or 1000
    /// records), stored before the next run starts — so an event never lands after one it
    /// caused elsewhere (a saga's failure after the compensation it triggered).
    public func send(_ events: [OutgoingEvent]) async throws {
        var runs: [(target: TopicPartition, batches: [RecordBatchBuilder], size: Int)] = []
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        // Each topic's configuration looked up once per call (the metadata state is a copy).
        var configurations: [String: TopicConfiguration] = [:]
        for event in events {
            var configuration = configurations[event.topic] ?? api.metadata.state.topics[event.topic]
            if configuration == nil && event.createIfMissing {
                var request = Ganglion_V1_CreateTopicRequest()
                request.name = event.topic
                request.config.partitions = 1
                try await refusals {
                    do { _ = try await api.createTopic(request) } catch let failure as ProtocolFailure where failure.code == .topicExists {}
                }
                configuration = api.metadata.state.topics[event.topic]
            }
            guard let configuration else { throw ShardIOError.unknownTopic(event.topic, stored: 0) }
            configurations[event.topic] = configuration
            let partition = event.key.map { KeyPartitioner.partition(for: $0, partitionCount: configuration.partitions) }
                ?? Int32.random(in: 0..<max(1, configuration.partitions))
            let target = TopicPartition(event.topic, partition)
            let size = event.value.count + (event.key?.count ?? 0) + 32
            if runs.last?.target != target {
                runs.append((target, [RecordBatchBuilder()], 0))
            } else if runs[runs.count - 1].batches.last!.count >= Self.maxBatchRecords || runs[runs.count - 1].size + size > Self.maxBatchBytes {
                runs[runs.count - 1].batches.append(RecordBatchBuilder())
                runs[runs.count - 1].size = 0
            }
            runs[runs.count - 1].batches[runs[runs.count - 1].batches.count - 1].append(key: event.key, value: event.value, timestamp: now)
            runs[runs.count - 1].size += size
        }
        for run in runs {
            for batch in run.batches {
                _ = try await refusals { try await api.store(batch.build(), topic: run.target.topic, partition: UInt32(run.target.partition)) }
            }
        }
    }

    /// Batches stay well under the log's limit, as the client's producer keeps them.
    static let maxBatchBytes = 1 << 20
    static let maxBatchRecords = 1000

    /// The node's refusals as ``NodeError`` (as a client would see them).
    private func refusals<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as ProtocolFailure {
            throw NodeError(code: failure.code, message: failure.message)
        } catch let error as LogError {
            throw NodeError(code: NodeAPI.code(for: error), message: error.description)
        }
    }
}
