import ClusterCore
import EventLog
import Foundation
import GanglionWire
import ZeroMQ

/// PRODUCE: checks the batch (framing, CRC, records, producer epoch, schema), appends the
/// producer's bytes unchanged, publishes them on the partition's stream and acknowledges under
/// the requested acks once the log's durability policy is met.
struct ProduceHandler: RequestHandler {
    unowned let api: NodeAPI
    var kinds: [Ganglion_V1_RequestKind] { [.produce] }

    func handle(_ request: NodeRequest, respond: @escaping NodeAPI.Respond) throws {
        guard let batch = request.batch else { throw ProtocolFailure(.malformedRequest, "a produce request needs its batch as the third frame") }
        try api.produce(request.header, try api.decode(request.body), batch: batch, respond: respond)
    }
}

extension NodeAPI {
    func produce(_ header: Ganglion_V1_RequestHeader, _ request: Ganglion_V1_ProduceRequest, batch: Frame,
                 respond: @escaping Respond, producerWait: ContinuousClock.Instant? = nil) throws {
        switch request.acks {
        case .unspecified, .none, .leader, .all: break
        default:
            throw ProtocolFailure(.invalidConfig, "acks \(request.acks.rawValue) is not one of ACKS_NONE (1), ACKS_LEADER (2), ACKS_ALL (3)")
        }
        let found: (TopicPartition, PartitionLog, TopicConfiguration)
        do {
            found = try lookup(request.topic, request.partition)
        } catch let failure as ProtocolFailure where cluster.isClustered && (failure.code == .unknownTopic || failure.code == .unknownPartition) {
            // This node's copy of the metadata may not have applied the topic yet: it was made
            // through the controller a moment ago and a client learned its leader from a node
            // that had (Kafka's clients retry UNKNOWN_TOPIC_OR_PARTITION for this). The produce
            // waits for it, up to 1 s, then is refused as unknown.
            let deadline = producerWait ?? ContinuousClock.now.advanced(by: .seconds(1))
            guard ContinuousClock.now < deadline else { throw failure }
            return retryProduce(header, request, batch: batch, respond: respond, until: deadline)
        }
        let (key, log, configuration) = found
        do {
            try batch.withUnsafeBytes { try checkProducer(of: $0) }
        } catch let unknown as ProducerNotYetKnown {
            // This node's copy of the metadata has not applied the record issuing the producer's
            // id or epoch yet (it was issued through the controller a moment ago): the produce
            // waits for it, up to 2 s. Then the controller leader, which knows every id issued,
            // refuses it as never issued; any other node may still lag the controller (it is
            // catching up after a restart, or an election is under way) and answers retriably.
            let deadline = producerWait ?? ContinuousClock.now.advanced(by: .seconds(2))
            guard ContinuousClock.now < deadline else {
                guard cluster.isLeader else {
                    throw ProtocolFailure(.timeout, "producer \(unknown.id) epoch \(unknown.epoch) is not in this node's copy of the metadata after 2 s: "
                                          + "the node may lag the controller (leader \(cluster.controller.leader ?? "unknown")); retry, and if this persists the id or epoch was never issued")
                }
                throw ProtocolFailure(.invalidProducerEpoch, "producer \(unknown.id) epoch \(unknown.epoch) was never issued by this cluster; ask INIT_PRODUCER_ID for one")
            }
            return retryProduce(header, request, batch: batch, respond: respond, until: deadline)
        }
        if let subject = configuration.subject, let mode = configuration.validation, mode != .none {
            try batch.withUnsafeBytes { try validate($0, topic: request.topic, subject: subject, full: mode == .full) }
        }
        let requestID = header.requestID
        if let state = placement(key) {
            return try produceReplicated(requestID, request, key: key, log: log, state: state, batch: batch, respond: respond)
        }
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
                    log.advanceHighWatermark(to: appended.lastOffset + 1)
                    let response = Self.produceResponse(appended, log: log)
                    respond(silent ? [] : ((try? Self.success(requestID, response)) ?? Self.error(requestID, .internal, "encoding failed")),
                            Self.streamMessage(key, appended: appended, batch: batch))
                    // After the stream and the answer went out: counting is off the event's path.
                    NodeMetrics.produced(topic: key.topic, records: Int(appended.lastOffset - appended.firstOffset + 1), bytes: appended.size)
                    self.committed(key, batch: batch)
                case .failure(let error):
                    respond(silent ? [] : Self.error(requestID, (error as? LogError).map(Self.code(for:)) ?? .internal, "\(error)"), nil)
                }
            }
        }
    }

    /// Handles the produce again in 10 ms, when this node's copy of the metadata may have applied
    /// what it lacked (a topic or a producer id made a moment ago), waiting at most until
    /// `deadline` in all; a refusal then is the answer.
    private func retryProduce(_ header: Ganglion_V1_RequestHeader, _ request: Ganglion_V1_ProduceRequest, batch: Frame,
                              respond: @escaping Respond, until deadline: ContinuousClock.Instant) {
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(10)) {
            do {
                try self.produce(header, request, batch: batch, respond: respond, producerWait: deadline)
            } catch {
                respond(Self.refusal(header.requestID, error), nil)
            }
        }
    }

    /// The stream message of an appended batch: subscribers get the batch as stored (and as fetch
    /// returns it), base offset and leader epoch set — both outside the CRC, so the producer's
    /// bytes are kept.
    static func streamMessage(_ key: TopicPartition, appended: AppendResult, batch: Frame) -> [Frame] {
        var stream = Ganglion_V1_StreamBatchHeader()
        stream.topic = key.topic
        stream.partition = UInt32(key.partition)
        stream.baseOffset = appended.firstOffset
        stream.nextOffset = appended.lastOffset + 1
        stream.highWatermark = appended.lastOffset + 1
        // The stored batch is written straight into its frame (no copy of it in between). Making
        // a frame fails only when malloc does, which every frame initialiser treats as fatal.
        let stored = batch.withUnsafeBytes { bytes in
            try! Frame(count: bytes.count) { StoredBatch.write(bytes, into: $0, baseOffset: appended.firstOffset, leaderEpoch: appended.leaderEpoch) }
        }
        return [Frame(StreamTopic.frame(for: key)), Frame((try? stream.serializedBytes()) ?? [UInt8]()), stored]
    }

    /// The answer to a produce whose batch landed as `appended`.
    static func produceResponse(_ appended: AppendResult, log: PartitionLog) -> Ganglion_V1_ProduceResponse {
        var response = Ganglion_V1_ProduceResponse()
        response.baseOffset = appended.firstOffset
        response.logStartOffset = log.logStartOffset
        if !appended.duplicate { response.appendTimeMs = Int64(Date().timeIntervalSince1970 * 1000) }
        return response
    }

    /// A batch became readable: fetches waiting on the partition are answered, and asks waiting
    /// for replies in it get them.
    func committed(_ key: TopicPartition, batch: Frame) {
        fetchWaiters.wake(key)
        if key.topic.hasSuffix(AgentAsk.repliesSuffix), !askWaiters.isEmpty {
            batch.withUnsafeBytes { askWaiters.deliver($0) }
        }
    }

}
