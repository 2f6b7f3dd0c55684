import ClusterCore
import EventLog
import Foundation
import SchemaRegistry
import GanglionWire
import SwiftProtobuf
import ZeroMQ

/// Serves protocol requests (docs/protocol.md) against the metadata and the partition logs.
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
    let groups: GroupService
    let registry: SchemaRegistryService
    let validator: EventValidator
    /// Where this node is reached now (the HTTP address arrives after the API starts).
    let endpoints: LockedEndpoints
    /// Fetches waiting for records (long poll).
    let fetchWaiters = FetchWaiters()
    /// Asks waiting for their replies.
    let askWaiters: AskWaiters
    /// Sends a stream message on PUB (for batches the node stores itself, such as asks).
    let publish: @Sendable ([Frame]) -> Void
    /// This node's part in the cluster (a cluster of one unless configured otherwise).
    let cluster: ClusterControl

    init(nodeID: String, metadata: any MetadataLog, logs: TopicLogs, groups: GroupService, registry: SchemaRegistryService, endpoints: LockedEndpoints,
         cluster: ClusterControl? = nil,
         askWaiters: AskWaiters = AskWaiters(limit: 10_000), publish: @escaping @Sendable ([Frame]) -> Void = { _ in }) {
        self.cluster = cluster ?? ClusterControl(nodeID: nodeID, settings: ControllerSettings(), role: .single, storage: nil)
        self.askWaiters = askWaiters
        self.publish = publish
        self.registry = registry
        validator = EventValidator(registry: registry)
        self.nodeID = nodeID
        self.metadata = metadata
        self.logs = logs
        self.groups = groups
        self.endpoints = endpoints
    }

    /// The protocol version this node speaks (RequestHeader.version).
    static let protocolVersion: UInt32 = 1

    /// Handles the frames of one request (routing id removed); `frameCount` is how many frames
    /// the request had when more arrived than were kept.
    func handle(_ frames: ArraySlice<Frame>, frameCount: Int? = nil, respond: @escaping Respond) {
        let count = frameCount ?? frames.count
        guard let first = frames.first,
              let header = try? first.withUnsafeBytes({ try Ganglion_V1_RequestHeader(serializedBytes: Data($0)) }) else {
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
        if cluster.isClustered, !cluster.isLeader, needsController(header.kind, body: body) {
            return forwardToController(header, frames: frames, respond: respond)
        }
        do {
            switch header.kind {
            case .produce:
                guard frames.count == 3 else { throw ProtocolFailure(.malformedRequest, "a produce request needs its batch as the third frame") }
                try produce(header, try decode(body), batch: frames[frames.startIndex + 2], respond: respond)
            case .fetch:
                try fetch(header, try decode(body), respond: respond)
            case .metadata:
                respond(try Self.success(header.requestID, metadataResponse(try decode(body))), nil)
            case .createTopic:
                // Metadata commits answer from the metadata log's apply queue once durable: the
                // socket thread never waits for their fsync.
                let requestID = header.requestID
                createTopic(try decode(body)) { respond(Self.reply(requestID, $0), nil) }
            case .deleteTopic:
                let requestID = header.requestID
                deleteTopic(try decode(body)) { respond(Self.reply(requestID, $0), nil) }
            case .groupHeartbeat:
                respond(try Self.success(header.requestID, groups.heartbeat(try decode(body))), nil)
            case .offsetCommit:
                // Answered once the offsets are durable, from the log's flusher thread: the socket
                // thread never waits for the fsync.
                let requestID = header.requestID
                let topics = metadata.state.topics
                groups.commit(try decode(body), highWatermark: { partition in
                    guard let configuration = topics[partition.topic], partition.partition >= 0,
                          partition.partition < configuration.partitions else { return nil }
                    return try? self.logs.log(partition, configuration: configuration).highWatermark
                }) { result in
                    switch result {
                    case .success(let response):
                        respond((try? Self.success(requestID, response)) ?? Self.error(requestID, .internal, "encoding failed"), nil)
                    case .failure(let error):
                        let code = (error as? LogError).map(Self.code(for:)) ?? .internal
                        NodeMetrics.rejected(code)
                        respond(Self.error(requestID, code, "the offsets could not be stored: \(error)"), nil)
                    }
                }
            case .offsetFetch:
                respond(try Self.success(header.requestID, groups.fetchOffsets(try decode(body))), nil)
            case .initProducerID:
                let request: Ganglion_V1_InitProducerIdRequest = try decode(body)
                let requestID = header.requestID
                initProducer(request) { respond(Self.reply(requestID, $0), nil) }
            case .describeGroup:
                let request: Ganglion_V1_DescribeGroupRequest = try decode(body)
                let topics = metadata.state.topics
                let described = groups.describe(request) { partition in
                    guard let configuration = topics[partition.topic] else { return nil }
                    return try? self.logs.log(partition, configuration: configuration).highWatermark
                }
                respond(try Self.success(header.requestID, described), nil)
            case .listOffsets:
                respond(try Self.success(header.requestID, listOffsets(try decode(body))), nil)
            case .listGroups:
                let _: Ganglion_V1_ListGroupsRequest = try decode(body)
                respond(try Self.success(header.requestID, groups.list()), nil)
            case .registry:
                let request: Ganglion_V1_RegistryRequest = try decode(body)
                let requestID = header.requestID
                // Registrations and checks compile schemas (seconds for a large one): never on the socket thread.
                Self.registryWork.async {
                    let answer = RegistryREST(service: self.registry).handle(RegistryHTTPRequest(
                        method: request.method, segments: request.path, query: request.query, body: Array(request.body)))
                    var response = Ganglion_V1_RegistryResponse()
                    response.status = UInt32(answer.status)
                    response.body = Data(answer.body)
                    do {
                        respond(try Self.success(requestID, response), nil)
                    } catch {
                        respond(Self.error(requestID, .internal, "\(error)"), nil)
                    }
                }
            case .resetOffsets:
                respond(try Self.success(header.requestID, resetOffsets(try decode(body))), nil)
            case .ask:
                let request: Ganglion_V1_AskRequest = try decode(body)
                let requestID = header.requestID
                Task {
                    do {
                        respond(try Self.success(requestID, try await self.ask(request)), nil)
                    } catch let failure as ProtocolFailure {
                        respond(Self.error(requestID, failure.code, failure.message), nil)
                    } catch {
                        respond(Self.error(requestID, .internal, "\(error)"), nil)
                    }
                }
            case .raft:
                try receiveRaft(try decode(body))
                respond([], nil)
            case .controllerFetch:
                try controllerFetch(header, try decode(body), respond: respond)
            case .nodeHeartbeat:
                nodeHeartbeat(header, try decode(body), respond: respond)
            case .clusterStatus:
                let _: Ganglion_V1_ClusterStatusRequest = try decode(body)
                respond(try Self.success(header.requestID, clusterStatus()), nil)
            default:
                throw ProtocolFailure(.unsupportedKind, "request kind \(header.kind) is not served by this node yet")
            }
        } catch let failure as ProtocolFailure {
            NodeMetrics.rejected(failure.code)
            respond(Self.error(header.requestID, failure.code, failure.message), nil)
        } catch let error as LogError {
            NodeMetrics.rejected(Self.code(for: error))
            respond(Self.error(header.requestID, Self.code(for: error), error.description), nil)
        } catch {
            NodeMetrics.rejected(.internal)
            respond(Self.error(header.requestID, .internal, "\(error)"), nil)
        }
    }

    private func decode<Body: SwiftProtobuf.Message>(_ frame: Frame) throws -> Body {
        do {
            return try frame.withUnsafeBytes { try Body(serializedBytes: Data($0)) }
        } catch {
            throw ProtocolFailure(.malformedRequest, "the body is not a valid \(Body.protoMessageName): \(error)")
        }
    }

    // MARK: Produce and fetch

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

    private func produce(_ header: Ganglion_V1_RequestHeader, _ request: Ganglion_V1_ProduceRequest, batch: Frame,
                         respond: @escaping Respond) throws {
        switch request.acks {
        case .unspecified, .none, .leader, .all: break
        default:
            throw ProtocolFailure(.invalidConfig, "acks \(request.acks.rawValue) is not one of ACKS_NONE (1), ACKS_LEADER (2), ACKS_ALL (3)")
        }
        let (key, log, configuration) = try lookup(request.topic, request.partition)
        try batch.withUnsafeBytes { try checkProducer(of: $0) }
        if let subject = configuration.subject, let mode = configuration.validation, mode != .none {
            try batch.withUnsafeBytes { try validate($0, topic: request.topic, subject: subject, full: mode == .full) }
        }
        let requestID = header.requestID
        let silent = request.acks == .none
        try batch.withUnsafeBytes { bytes in
            try log.append(bytes) { result in
                switch result {
                case .success(let appended) where appended.duplicate:
                    // A retry of a stored batch: acknowledge it with its original offsets, publish nothing.
                    var response = Ganglion_V1_ProduceResponse()
                    response.baseOffset = appended.firstOffset
                    response.logStartOffset = log.logStartOffset
                    respond(silent ? [] : ((try? Self.success(requestID, response)) ?? Self.error(requestID, .internal, "encoding failed")), nil)
                case .success(let appended):
                    NodeMetrics.produced(topic: key.topic, records: Int(appended.lastOffset - appended.firstOffset + 1), bytes: appended.size)
                    log.advanceHighWatermark(to: appended.lastOffset + 1)
                    var stream = Ganglion_V1_StreamBatchHeader()
                    stream.topic = key.topic
                    stream.partition = UInt32(key.partition)
                    stream.baseOffset = appended.firstOffset
                    stream.nextOffset = appended.lastOffset + 1
                    stream.highWatermark = appended.lastOffset + 1
                    // Subscribers get the batch as stored (and as fetch returns it): base offset and
                    // leader epoch set. Both are outside the CRC, so the producer's bytes are kept.
                    let stored = batch.withUnsafeBytes { StoredBatch.bytes($0, baseOffset: appended.firstOffset, leaderEpoch: appended.leaderEpoch) }
                    let streamMessage = [Frame(StreamTopic.frame(for: key)), Frame((try? stream.serializedBytes()) ?? [UInt8]()), Frame(stored)]
                    var response = Ganglion_V1_ProduceResponse()
                    response.baseOffset = appended.firstOffset
                    response.logStartOffset = log.logStartOffset
                    response.appendTimeMs = Int64(Date().timeIntervalSince1970 * 1000)
                    respond(silent ? [] : ((try? Self.success(requestID, response)) ?? Self.error(requestID, .internal, "encoding failed")), streamMessage)
                    self.fetchWaiters.wake(key)
                    if key.topic.hasSuffix(AgentAsk.repliesSuffix), !self.askWaiters.isEmpty {
                        batch.withUnsafeBytes { self.askWaiters.deliver($0) }
                    }
                case .failure(let error):
                    respond(silent ? [] : Self.error(requestID, (error as? LogError).map(Self.code(for:)) ?? .internal, "\(error)"), nil)
                }
            }
        }
    }

    /// Answers a fetch now, or — when it found nothing and may wait — once records arrive or
    /// its wait is over.
    private func fetch(_ header: Ganglion_V1_RequestHeader, _ request: Ganglion_V1_FetchRequest, respond: @escaping Respond) throws {
        let (key, _) = try partition(request.topic, request.partition)
        let frames = try fetchNow(header, request)
        guard frames.last?.isEmpty == true, request.maxWaitMs > 0 else {
            respond(frames, nil)
            return
        }
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(min(request.maxWaitMs, 60_000))))
        let waiters = fetchWaiters
        @Sendable func attempt(expired: Bool) {
            do {
                let again = try fetchNow(header, request)
                // Still nothing (the append ended below the fetch offset): wait on, until the deadline.
                if !expired, again.last?.isEmpty == true, waiters.park(key, until: deadline, retry: attempt) { return }
                respond(again, nil)
            } catch let error as LogError {
                respond(Self.error(header.requestID, Self.code(for: error), error.description), nil)
            } catch {
                respond(Self.error(header.requestID, .internal, "\(error)"), nil)
            }
        }
        if !waiters.park(key, until: deadline, retry: attempt) { respond(frames, nil) }
    }

    private func fetchNow(_ header: Ganglion_V1_RequestHeader, _ request: Ganglion_V1_FetchRequest) throws -> [Frame] {
        let (_, log) = try partition(request.topic, request.partition)
        let maxBytes = Int(min(max(request.maxBytes, 1), 64 << 20))
        // Only committed records are served (below the high watermark: durable, and on a cluster
        // replicated to the in-sync replicas); `committed_only` is always in force.
        let read = try log.read(from: request.offset, maxBytes: maxBytes, upTo: log.highWatermark)
        var response = Ganglion_V1_FetchResponse()
        response.highWatermark = read.highWatermark
        response.logStartOffset = read.logStartOffset
        response.logEndOffset = read.logEndOffset
        response.nextOffset = read.nextOffset
        return try Self.success(header.requestID, response) + [Frame(read.bytes)]
    }

    // MARK: Topics and metadata

    private func metadataResponse(_ request: Ganglion_V1_MetadataRequest) throws -> Ganglion_V1_MetadataResponse {
        let topics = metadata.state.topics
        var response = Ganglion_V1_MetadataResponse()
        var node = Ganglion_V1_NodeMetadata()
        node.id = nodeID
        let endpoints = self.endpoints.withLock { $0 }
        node.apiEndpoint = endpoints.api
        node.pubEndpoint = endpoints.pub
        node.httpEndpoint = endpoints.http
        response.nodes = [node]
        let names = request.topics.isEmpty ? topics.keys.sorted() : request.topics
        for name in names {
            guard let configuration = topics[name] else {
                response.unknownTopics.append(name)
                continue
            }
            response.topics.append(try describe(name, configuration))
        }
        return response
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
        for index in 0..<configuration.partitions {
            let log = try logs.log(TopicPartition(name, index), configuration: configuration)
            var partition = Ganglion_V1_PartitionMetadata()
            partition.partition = UInt32(index)
            partition.leader = nodeID
            partition.leaderEpoch = log.latestLeaderEpoch ?? 0
            partition.replicas = [nodeID]
            partition.inSyncReplicas = [nodeID]
            partition.logStartOffset = log.logStartOffset
            partition.highWatermark = log.highWatermark
            partition.sizeBytes = Int64(log.sizeInBytes)
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
        case .closed, .io, .staleLeaderEpoch: .internal
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

/// The PUB topic frame of a partition's stream: `p\0<topic>\0<partition, 4 bytes big-endian>`.
public enum StreamTopic {
    /// The frame a subscriber subscribes to for `partition`.
    public static func frame(for partition: TopicPartition) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "p"), 0] + Array(partition.topic.utf8) + [0]
        withUnsafeBytes(of: UInt32(partition.partition).bigEndian) { bytes += $0 }
        return bytes
    }
}
