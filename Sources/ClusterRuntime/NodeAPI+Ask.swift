import ClusterCore
import EventLog
import Foundation
import GanglionWire
import SwiftProtobuf
import ZeroMQ

extension NodeAPI {
    /// The longest an ask may wait for its reply.
    static let maxAskMilliseconds: UInt32 = 300_000

    /// Asks an agent (``AgentAsk``): stores the request as an event on the agent's input topic
    /// through the ordinary produce path (validation, the live stream), then waits for the reply
    /// that the owning shard emits to the agent's replies topic. A timeout leaves the request in
    /// the topic: the shard still handles it.
    /// On a cluster the ask goes to the node where its reply arrives (unless `forwarded` here).
    func ask(_ request: Ganglion_V1_AskRequest, forwarded: Bool = false) async throws -> Ganglion_V1_AskResponse {
        guard !request.agent.isEmpty else { throw ProtocolFailure(.malformedRequest, "an ask names its agent") }
        guard request.timeoutMs <= Self.maxAskMilliseconds else {
            throw ProtocolFailure(.invalidConfig, "an ask waits at most \(Self.maxAskMilliseconds) ms, not \(request.timeoutMs)")
        }
        if let answer = try await askWhereTheReplyArrives(request, forwarded: forwarded) { return answer }
        let topics = agentTopics(request.agent)
        guard let topic = topics.first else {
            throw ProtocolFailure(.unknownGroup, "no agent named \(request.agent) runs on this cluster (its group has no members and no committed offsets)")
        }
        let repliesTopic = AgentAsk.repliesTopic(request.agent)
        let state = metadata.state
        guard let input = state.topics[topic], let replies = state.topics[repliesTopic] else {
            throw ProtocolFailure(.unknownTopic, "agent \(request.agent) has no topic \(state.topics[topic] == nil ? topic : repliesTopic)")
        }
        let key = Array(request.key)
        let inputPartition = UInt32(KeyPartitioner.partition(for: key, partitionCount: Int32(input.partitions)))
        let replyPartition = UInt32(KeyPartitioner.partition(for: key, partitionCount: Int32(replies.partitions)))
        _ = try lookup(repliesTopic, replyPartition)

        var event = EventEnvelope()
        event.id = request.id.isEmpty ? UUID().uuidString : request.id
        // Registered before the request is stored, so a reply however fast finds its waiter.
        guard askWaiters.register(event.id) else {
            throw ProtocolFailure(.busy, "\(askWaiters.limit) asks already wait for replies on this node (or one with id \(event.id) does); retry shortly")
        }
        event.specVersion = EventEnvelope.cloudEventsSpecVersion
        event.source = "/asks"
        event.type = request.type.isEmpty ? AgentAsk.defaultType : request.type
        event.time = Google_Protobuf_Timestamp(date: Date())
        event.dataContentType = request.contentType.isEmpty ? "application/json" : request.contentType
        event.data = request.data
        event.key = request.key
        event.extensions = [AgentAsk.extensionKey: request.agent]
        var batch = RecordBatchBuilder()
        batch.append(key: key, value: try event.serializedBytes(), timestamp: Int64(Date().timeIntervalSince1970 * 1000))
        let offset: Int64
        do {
            offset = try await store(batch.build(), topic: topic, partition: inputPartition)
        } catch {
            askWaiters.cancel(event.id)
            throw error
        }

        let timeout = request.timeoutMs == 0 ? 5_000 : Int(request.timeoutMs)
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(timeout))
        guard let reply = await askWaiters.reply(to: event.id, until: deadline) else {
            throw ProtocolFailure(.timeout, "agent \(request.agent) did not reply within \(timeout) ms; the request stays at \(topic)[\(inputPartition)] offset \(offset) and will still be handled")
        }
        var response = Ganglion_V1_AskResponse()
        response.reply = try reply.serializedData()
        response.error = reply.extensions[AgentAsk.errorExtensionKey] ?? ""
        response.topic = topic
        response.partition = inputPartition
        response.offset = offset
        return response
    }

    /// Produces one batch through ``handle(_:respond:)``, publishing its stream message; returns
    /// the batch's first offset once it is stored under the node's durability policy (and acknowledged per `acks`).
    /// A replicated partition led elsewhere gets the batch at its leader, unless `forward` is
    /// false: then it is refused (NOT_LEADER) — what a group coordinator that lost its partition needs.
    func store(_ batch: [UInt8], topic: String, partition: UInt32, acks: Ganglion_V1_Acks = .leader, forward: Bool = true) async throws -> Int64 {
        var header = Ganglion_V1_RequestHeader()
        header.kind = .produce
        header.version = 1
        var produce = Ganglion_V1_ProduceRequest()
        produce.topic = topic
        produce.partition = partition
        produce.acks = acks
        let frames = [Frame(try header.serializedBytes() as [UInt8]), Frame(try produce.serializedBytes() as [UInt8]), Frame(batch)]
        // A replicated partition led by another node: the batch goes to its leader.
        let key = TopicPartition(topic, Int32(partition))
        if forward, let state = placement(key), replicas?.leader(for: key)?.leaderEpoch != state.leaderEpoch {
            return try await storeAtLeader(key, frames: Array(frames.dropFirst()))
        }
        let publish = self.publish
        let response: [Frame] = await withCheckedContinuation { continuation in
            handle(frames[...], principal: NodeSecurity.nodePrincipal) { response, stream in
                if let stream { publish(stream) }
                continuation.resume(returning: response)
            }
        }
        guard let first = response.first, let answer = try? first.withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }) else {
            throw ProtocolFailure(.internal, "the batch for \(topic)[\(partition)] got no answer from the produce path")
        }
        guard answer.error == .none else { throw ProtocolFailure(answer.error, answer.errorMessage) }
        guard response.count >= 2 else { throw ProtocolFailure(.internal, "the produce answer for \(topic)[\(partition)] has no body") }
        let body = try response[1].withUnsafeBytes { try Ganglion_V1_ProduceResponse(inPlace: $0) }
        return body.baseOffset
    }

    /// Sends a produce (body and batch frames) to the leader of a replicated partition this node
    /// does not lead, following the leader as it moves, for up to 10 s; returns the base offset.
    func storeAtLeader(_ key: TopicPartition, frames: [Frame]) async throws -> Int64 {
        let deadline = ContinuousClock.now + .seconds(10)
        var last = ProtocolFailure(.notLeader, "\(key.topic)-\(key.partition) has no leader now")
        while ContinuousClock.now < deadline {
            let state = placement(key)
            if let state, state.leader == nodeID, replicas?.leader(for: key)?.leaderEpoch == state.leaderEpoch {
                var header = Ganglion_V1_RequestHeader()
                header.kind = .produce
                header.version = 1
                let local = [Frame(try header.serializedBytes() as [UInt8])] + frames
                let response: [Frame] = await withCheckedContinuation { continuation in
                    handle(local[...]) { response, stream in
                        if let stream { self.publish(stream) }
                        continuation.resume(returning: response)
                    }
                }
                return try Self.baseOffset(response, key)
            }
            if let leader = state?.leader, leader != nodeID, let endpoint = metadata.state.nodes[leader]?.api, let requests = cluster.requests {
                let reply: Result<[Frame], ProtocolFailure> = await withCheckedContinuation { continuation in
                    requests.request(endpoint, kind: .produce, frames: frames, timeout: .seconds(5)) { continuation.resume(returning: $0) }
                }
                do {
                    return try Self.baseOffset(try reply.get(), key)
                } catch let failure as ProtocolFailure where failure.code == .notLeader || failure.code == .fencedLeaderEpoch {
                    last = failure
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw last
    }

    /// The base offset of a produce answer, or its error.
    static func baseOffset(_ response: [Frame], _ key: TopicPartition) throws -> Int64 {
        guard let first = response.first, let answer = try? first.withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }) else {
            throw ProtocolFailure(.internal, "the batch for \(key.topic)[\(key.partition)] got no answer")
        }
        guard answer.error == .none else { throw ProtocolFailure(answer.error, answer.errorMessage) }
        guard response.count >= 2 else { throw ProtocolFailure(.internal, "the produce answer for \(key.topic)[\(key.partition)] has no body") }
        return try response[1].withUnsafeBytes { try Ganglion_V1_ProduceResponse(inPlace: $0) }.baseOffset
    }
}
