import ClusterCore
import EventLog
import Foundation
import GanglionWire
import SchemaRegistry
import SwiftProtobuf
import ZeroMQ

/// Requests that change the metadata log (topics, producer ids). Each is decided against the
/// metadata decided so far and answered once its record is durable, from the metadata log's
/// apply queue: nothing here waits for an fsync on the caller's thread.
extension NodeAPI {
    /// A new producer id, the next epoch of an issued one (fencing its older instances), or a new
    /// id when that one's epochs are exhausted.
    func initProducer(_ request: Ganglion_V1_InitProducerIdRequest,
                      completion: @escaping @Sendable (Result<Ganglion_V1_InitProducerIdResponse, any Error>) -> Void) {
        let resuming = request.producerID > 0 ? request.producerID : nil
        metadata.commit(deciding: { state in
            do {
                return try state.producerInitialization(resuming: resuming)
            } catch let error as MetadataError {
                throw ProtocolFailure(.invalidConfig, error.message)
            }
        }) { result in
            completion(result.flatMap { record in
                guard case .producerInitialized(let id, let epoch) = record else {
                    return .failure(ProtocolFailure(.internal, "unreachable: \(record) is not a producer record"))
                }
                var response = Ganglion_V1_InitProducerIdResponse()
                response.producerID = id
                response.producerEpoch = Int32(epoch)
                return .success(response)
            }.mapError(Self.metadataFailure))
        }
    }

    /// ``initProducer(_:completion:)`` for callers in the node's process (agent shards).
    func initProducer(_ request: Ganglion_V1_InitProducerIdRequest) async throws -> Ganglion_V1_InitProducerIdResponse {
        try await withCheckedThrowingContinuation { continuation in initProducer(request) { continuation.resume(with: $0) } }
    }

    /// Creates a topic as configured in `request`.
    func createTopic(_ request: Ganglion_V1_CreateTopicRequest,
                     completion: @escaping @Sendable (Result<Ganglion_V1_CreateTopicResponse, any Error>) -> Void) {
        // The cluster's own topics are made by the cluster alone.
        do { try MetadataState.checkName(request.name) } catch { return completion(.failure(Self.metadataFailure(error))) }
        let config = request.config
        let validation: SchemaValidationMode = switch config.validation {
        case .id: .id
        case .full: .full
        default: .none
        }
        let subject = config.subject.isEmpty ? (validation == .none ? nil : "\(request.name)-value") : config.subject
        let configuration = TopicConfiguration(
            partitions: Int32(clamping: config.partitions), replicationFactor: Int32(clamping: max(config.replicationFactor, 1)),
            retentionMilliseconds: config.retentionMs > 0 ? config.retentionMs : nil,
            retentionBytes: config.retentionBytes > 0 ? config.retentionBytes : nil, compacted: config.compacted,
            subject: subject, validation: validation == .none ? nil : validation,
            minInSyncReplicas: config.minInsyncReplicas > 0 ? Int32(clamping: config.minInsyncReplicas) : nil)
        let name = request.name
        let decide: (MetadataState) throws -> MetadataRecord
        if cluster.isClustered {
            // Placed over the live nodes: R defaults to min(3, live nodes), min-insync to min(2, R).
            let requested = config.replicationFactor
            decide = { state in try Self.placed(name, configuration, replicationFactor: requested, in: state) }
        } else {
            guard configuration.replicationFactor == 1 else {
                return completion(.failure(ProtocolFailure(
                    .invalidConfig, "a single node holds one replica; replication factor \(configuration.replicationFactor) needs more nodes")))
            }
            if let minimum = configuration.minInSyncReplicas, minimum > 1 {
                return completion(.failure(ProtocolFailure(.invalidConfig, "min-insync \(minimum) exceeds the replication factor 1 of a single node")))
            }
            decide = { _ in .topicCreated(name: name, configuration: configuration) }
        }
        let unplaced = configuration
        metadata.commit(deciding: decide) { result in
            completion(Result {
                let record = try result.mapError(Self.metadataFailure).get()
                var response = Ganglion_V1_CreateTopicResponse()
                if case .topicPlaced(_, let placed, _) = record {
                    response.topic = try self.describe(name, placed)
                } else {
                    response.topic = try self.describe(name, unplaced)
                }
                return response
            })
        }
    }

    /// The record placing topic `name` over the live nodes of `state`: `replicationFactor`
    /// replicas (0: min(3, live nodes)) per partition, replicas and leaders spread by load.
    static func placed(_ name: String, _ requested: TopicConfiguration, replicationFactor: UInt32, in state: MetadataState) throws -> MetadataRecord {
        var configuration = requested
        let alive = state.nodes.values.filter { $0.state == .alive }.map(\.id)
        guard !alive.isEmpty else {
            throw ProtocolFailure(.busy, "topic \(name): no node has registered with the controller yet (the cluster is starting); retry in a moment")
        }
        configuration.replicationFactor = replicationFactor > 0 ? Int32(clamping: replicationFactor) : Int32(max(1, min(3, alive.count)))
        configuration.topicID = UUID().uuidString.lowercased()
        if let minimum = configuration.minInSyncReplicas, minimum > configuration.replicationFactor {
            throw ProtocolFailure(.invalidConfig, "topic \(name): min-insync \(minimum) exceeds the replication factor \(configuration.replicationFactor)")
        }
        var load: [String: (replicas: Int, leaders: Int)] = [:]
        for states in state.partitions.values {
            for partition in states {
                for replica in partition.replicas { load[replica, default: (0, 0)].replicas += 1 }
                if let leader = partition.replicas.first { load[leader, default: (0, 0)].leaders += 1 }
            }
        }
        let placement = try ReplicaPlacement.place(partitions: configuration.partitions, replicationFactor: configuration.replicationFactor,
                                                   nodes: alive, load: load)
        return .topicPlaced(name: name, configuration: configuration, partitions: placement.map { PartitionState(leader: $0[0], replicas: $0, isr: $0) })
    }

    /// ``createTopic(_:completion:)`` for callers in the node's process.
    func createTopic(_ request: Ganglion_V1_CreateTopicRequest) async throws -> Ganglion_V1_CreateTopicResponse {
        try await withCheckedThrowingContinuation { continuation in createTopic(request) { continuation.resume(with: $0) } }
    }

    /// Deletes a topic: its record, then its logs and every group's offsets on it.
    func deleteTopic(_ request: Ganglion_V1_DeleteTopicRequest,
                     completion: @escaping @Sendable (Result<Ganglion_V1_DeleteTopicResponse, any Error>) -> Void) {
        let name = request.name
        // Set by the decision (which runs before the completion can), read by the completion.
        nonisolated(unsafe) var partitions: Int32 = 0
        metadata.commit(deciding: { state in
            guard let configuration = state.topics[name] else { throw ProtocolFailure(.unknownTopic, "topic \(name) does not exist") }
            partitions = configuration.partitions
            return .topicDeleted(name: name)
        }) { result in
            completion(Result {
                _ = try result.mapError(Self.metadataFailure).get()
                self.logs.delete(topic: name, partitions: partitions)
                self.groups.forgetOffsets(ofTopic: name)
                return Ganglion_V1_DeleteTopicResponse()
            })
        }
    }

    /// A metadata refusal as the protocol error a client gets.
    static func metadataFailure(_ error: any Error) -> any Error {
        guard let error = error as? MetadataError else { return error }
        return ProtocolFailure(error.code == .topicExists ? .topicExists : error.code == .unknownTopic ? .unknownTopic : .invalidConfig, error.message)
    }

    /// The reply frames for an answer that completed (success, or the error's code and message).
    static func reply<Body: SwiftProtobuf.Message>(_ requestID: UInt64, _ result: Result<Body, any Error>) -> [Frame] {
        switch result {
        case .success(let body):
            return (try? success(requestID, body)) ?? error(requestID, .internal, "encoding the response failed")
        case .failure(let failure as ProtocolFailure):
            NodeMetrics.rejected(failure.code)
            return error(requestID, failure.code, failure.message)
        case .failure(let failure as LogError):
            NodeMetrics.rejected(code(for: failure))
            return error(requestID, code(for: failure), failure.description)
        case .failure(let failure):
            NodeMetrics.rejected(.internal)
            return error(requestID, .internal, "\(failure)")
        }
    }
}
