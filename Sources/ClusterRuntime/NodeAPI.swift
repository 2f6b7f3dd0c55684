import ClusterCore
import EventLog
import Foundation
import SchemaRegistry
import GanglionWire
import SwiftProtobuf
import ZeroMQ

/// Serves protocol requests (docs/protocol.md) against the metadata and the partition logs.
/// It checks each request's framing and version, forwards metadata writes to the controller
/// leader when this node is not it, and hands the request to the handler of its kind
/// (`Handlers/`: one type per concern — produce, fetch, topics, producer ids, groups, registry,
/// ask, controller).
///
/// Batches are never decoded: a produce checks the batch's framing and CRC (in the log), stores
/// the producer's bytes, and publishes those same bytes. Every request gets exactly one reply —
/// malformed ones a typed error — and `respond` may be called on another thread (group commit
/// completes on the log's flusher thread).
final class NodeAPI: Sendable {
    /// A reply: the response frames, and the stream message to publish first, if any.
    typealias Respond = @Sendable (_ response: [Frame], _ stream: [Frame]?) -> Void

    let nodeID: String
    let metadata: any MetadataLog
    let logs: TopicLogs
    let groups: GroupDirectory
    /// How long a group member's session lasts without a heartbeat (ms).
    let groupSessionTimeout: Int64
    /// Set while the controller leader makes `__consumer_offsets`.
    let offsetsTopicPending = MaintenanceGate()
    let registry: SchemaRegistryService
    let validator: EventValidator
    /// Where this node is reached now (the HTTP address arrives after the API starts).
    let endpoints: LockedEndpoints
    /// Fetches waiting for records (long poll).
    let fetchWaiters: FetchWaiters
    /// This node's replicas of replicated partitions (nil: a cluster of one).
    let replicas: ReplicaManager?
    /// The controller leader's partition decisions (leaders and ISRs after nodes leave and return).
    let partitionControl = PartitionControl()
    /// Asks waiting for their replies.
    let askWaiters: AskWaiters
    /// Sends a stream message on PUB (for batches the node stores itself, such as asks).
    let publish: @Sendable ([Frame]) -> Void
    /// This node's part in the cluster (a cluster of one unless configured otherwise).
    let cluster: ClusterControl
    /// Which handler serves which request kind.
    let handlers = RequestHandlers()
    /// Decides each request against the ACLs when security is on (nil: off).
    let nodeGuard: NodeGuard?

    init(nodeID: String, metadata: any MetadataLog, logs: TopicLogs, groups: GroupDirectory, groupSessionTimeout: Int64 = 10_000,
         registry: SchemaRegistryService, endpoints: LockedEndpoints,
         cluster: ClusterControl? = nil, fetchWaiters: FetchWaiters = FetchWaiters(), replicas: ReplicaManager? = nil,
         askWaiters: AskWaiters = AskWaiters(limit: 10_000), nodeGuard: NodeGuard? = nil,
         publish: @escaping @Sendable ([Frame]) -> Void = { _ in }) {
        self.nodeGuard = nodeGuard
        self.cluster = cluster ?? ClusterControl(nodeID: nodeID, settings: ControllerSettings(), role: .single, storage: nil)
        self.askWaiters = askWaiters
        self.fetchWaiters = fetchWaiters
        self.replicas = replicas
        self.publish = publish
        self.registry = registry
        validator = EventValidator(registry: registry)
        self.nodeID = nodeID
        self.metadata = metadata
        self.logs = logs
        self.groups = groups
        self.groupSessionTimeout = groupSessionTimeout
        self.endpoints = endpoints
        handlers.install(for: self)
    }

    /// The protocol version this node speaks (RequestHeader.version).
    static let protocolVersion: UInt32 = 1

    /// Handles the frames of one request (routing id removed); `frameCount` is how many frames
    /// the request had when more arrived than were kept; `principal` is who sent it (security on).
    func handle(_ frames: ArraySlice<Frame>, frameCount: Int? = nil, principal: String? = nil, respond: @escaping Respond) {
        var respond = respond
        let count = frameCount ?? frames.count
        guard let first = frames.first,
              let header = try? first.withUnsafeBytes({ try Ganglion_V1_RequestHeader(inPlace: $0) }) else {
            respond(Self.error(0, .malformedRequest, "the first frame of a request must be a RequestHeader; it did not parse"), nil)
            return
        }
        guard count >= 2, count <= 3 else {
            NodeMetrics.rejected(.malformedRequest)
            respond(Self.error(header.requestID, .malformedRequest,
                               "a request is a RequestHeader frame, a body frame and (for produce) a batch frame; this one had \(count) frames"), nil)
            return
        }
        guard header.version == Self.protocolVersion else {
            NodeMetrics.rejected(.malformedRequest)
            respond(Self.error(header.requestID, .malformedRequest,
                               "the request speaks protocol version \(header.version); this node speaks version \(Self.protocolVersion)"), nil)
            return
        }
        let body = frames[frames.startIndex + 1]
        // Secured, the principal must be allowed before anything else happens — forwarding
        // included: the node that takes a request decides it, and forwards as a node.
        if let nodeGuard {
            let refusal: String?
            do {
                refusal = nodeGuard.refusal(of: try RequestAccess.of(header.kind, body: body), by: principal, kind: "\(header.kind)")
            } catch {
                NodeMetrics.rejected(.malformedRequest)
                return respond(Self.error(header.requestID, .malformedRequest, "the \(header.kind) request body did not parse: \(error)"), nil)
            }
            if let refusal {
                NodeMetrics.rejected(.notAuthorized)
                return respond(Self.error(header.requestID, .notAuthorized, refusal), nil)
            }
            // Every ACL, principal or token change is audited where it was asked, with its outcome
            // (not again by the controller leader it is forwarded to).
            if header.kind == .security, !header.clientID.hasPrefix(Self.forwardedPrefix), let change = nodeGuard.auditedChange(body) {
                let asked = respond
                respond = { response, stream in
                    nodeGuard.audit(principal: principal ?? "(none)", change: change, response: response)
                    asked(response, stream)
                }
            }
        }
        // The kind first: a produce or fetch (the hot path) never reads the controller's status.
        if cluster.isClustered, Self.groupKinds.contains(header.kind), routeGroupRequest(header, frames: frames, body: body, respond: respond) {
            return
        }
        if cluster.isClustered, needsController(header.kind, body: body), !cluster.isLeader {
            return forwardToController(header, frames: frames, respond: respond)
        }
        guard let handler = handlers.handler(for: header.kind) else {
            NodeMetrics.rejected(.unsupportedKind)
            return respond(Self.error(header.requestID, .unsupportedKind, "request kind \(header.kind) is not served by this node yet"), nil)
        }
        let request = NodeRequest(header: header, body: body, batch: frames.count == 3 ? frames[frames.startIndex + 2] : nil, principal: principal)
        do {
            try handler.handle(request, respond: respond)
        } catch {
            respond(Self.refusal(header.requestID, error), nil)
        }
    }

    /// The reply refusing a request with what was thrown (counted in the metrics): a protocol
    /// failure's code, a log error's, or INTERNAL.
    static func refusal(_ requestID: UInt64, _ error: any Error) -> [Frame] {
        let (code, message): (Ganglion_V1_ErrorCode, String) = switch error {
        case let failure as ProtocolFailure: (failure.code, failure.message)
        case let error as LogError: (Self.code(for: error), error.description)
        default: (.internal, "\(error)")
        }
        NodeMetrics.rejected(code)
        return Self.error(requestID, code, message)
    }

    /// Decodes a request body, refusing it with MALFORMED_REQUEST naming the message.
    func decode<Body: SwiftProtobuf.Message>(_ frame: Frame) throws -> Body {
        do {
            return try frame.withUnsafeBytes { try Body(inPlace: $0) }
        } catch {
            throw ProtocolFailure(.malformedRequest, "the body is not a valid \(Body.protoMessageName): \(error)")
        }
    }

    // MARK: Partitions

    func partition(_ topic: String, _ partition: UInt32) throws -> (TopicPartition, PartitionLog) {
        let (key, log, _) = try lookup(topic, partition)
        return (key, log)
    }

    /// A partition's key, log and its topic's configuration (one read of the metadata).
    func lookup(_ topic: String, _ partition: UInt32) throws -> (TopicPartition, PartitionLog, TopicConfiguration) {
        guard let configuration = metadata.state.topics[topic] else {
            throw ProtocolFailure(.unknownTopic, "topic \(topic) does not exist; create it with `ganglion topic create \(topic)`")
        }
        guard partition < configuration.partitions else {
            throw ProtocolFailure(.unknownPartition, "topic \(topic) has partitions 0…\(configuration.partitions - 1), not \(partition)")
        }
        let key = TopicPartition(topic, Int32(partition))
        return (key, try logs.log(key, configuration: configuration), configuration)
    }

    func describe(_ name: String, _ configuration: TopicConfiguration) throws -> Ganglion_V1_TopicMetadata {
        var topic = Ganglion_V1_TopicMetadata()
        topic.name = name
        topic.config.partitions = UInt32(configuration.partitions)
        topic.config.replicationFactor = UInt32(configuration.replicationFactor)
        topic.config.retentionMs = configuration.retentionMilliseconds ?? 0
        topic.config.retentionBytes = configuration.retentionBytes ?? 0
        topic.config.compacted = configuration.compacted
        topic.config.subject = configuration.subject ?? ""
        topic.config.validation = switch configuration.validation {
        case .id?: .id
        case .full?: .full
        default: .none
        }
        let placed = metadata.state.partitions[name]
        topic.config.minInsyncReplicas = UInt32(configuration.minInSync)
        for index in 0..<configuration.partitions {
            var partition = Ganglion_V1_PartitionMetadata()
            partition.partition = UInt32(index)
            if let placed, Int(index) < placed.count {
                // Replicated: the recorded state; the offsets where this node holds a replica
                // (exact on the leader), -1 (unknown here: ask the leader) where it holds none.
                let state = placed[Int(index)]
                partition.leader = state.leader ?? ""
                partition.leaderEpoch = state.leaderEpoch
                partition.partitionEpoch = state.partitionEpoch
                partition.replicas = state.replicas
                partition.inSyncReplicas = state.isr
                if state.replicas.contains(nodeID) {
                    let log = try logs.log(TopicPartition(name, index), configuration: configuration)
                    partition.logStartOffset = log.logStartOffset
                    partition.highWatermark = log.highWatermark
                    partition.sizeBytes = Int64(log.sizeInBytes)
                } else {
                    partition.logStartOffset = -1
                    partition.highWatermark = -1
                    partition.sizeBytes = -1
                }
            } else {
                let log = try logs.log(TopicPartition(name, index), configuration: configuration)
                partition.leader = nodeID
                partition.leaderEpoch = log.latestLeaderEpoch ?? 0
                partition.replicas = [nodeID]
                partition.inSyncReplicas = [nodeID]
                partition.logStartOffset = log.logStartOffset
                partition.highWatermark = log.highWatermark
                partition.sizeBytes = Int64(log.sizeInBytes)
            }
            topic.partitions.append(partition)
        }
        return topic
    }

    // MARK: Replies

    static func success<Body: SwiftProtobuf.Message>(_ requestID: UInt64, _ body: Body) throws -> [Frame] {
        var header = Ganglion_V1_ResponseHeader()
        header.requestID = requestID
        return [Frame(try header.serializedBytes() as [UInt8]), Frame(try body.serializedBytes() as [UInt8])]
    }

    static func error(_ requestID: UInt64, _ code: Ganglion_V1_ErrorCode, _ message: String, retryAfter: UInt32 = 0) -> [Frame] {
        var header = Ganglion_V1_ResponseHeader()
        header.requestID = requestID
        header.error = code
        header.errorMessage = message
        header.retryAfterMs = retryAfter
        return [Frame((try? header.serializedBytes() as [UInt8]) ?? [])]
    }

    static func code(for error: LogError) -> Ganglion_V1_ErrorCode {
        switch error.code {
        case .malformedBatch, .corruption: .corruptBatch
        case .tooLarge: .batchTooLarge
        case .recordTooLarge: .recordTooLarge
        case .offsetOutOfRange: .offsetOutOfRange
        case .missingKey, .invalidConfiguration: .invalidConfig
        case .outOfOrderSequence: .outOfOrderSequence
        case .invalidProducerEpoch: .invalidProducerEpoch
        case .deleted: .unknownTopic
        case .staleLeaderEpoch: .fencedLeaderEpoch
        case .closed, .io: .internal
        }
    }
}

/// A request refused with a protocol error code.
struct ProtocolFailure: Error, CustomStringConvertible {
    let code: Ganglion_V1_ErrorCode
    let message: String
    var description: String { message }
    init(_ code: Ganglion_V1_ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}

