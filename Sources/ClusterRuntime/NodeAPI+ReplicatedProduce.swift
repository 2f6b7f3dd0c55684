import ClusterCore
import EventLog
import Foundation
import GanglionWire
import ZeroMQ

extension NodeAPI {
    /// A produce to a replicated partition, on its leader: appended with the leader epoch once
    /// the durability policy is met; `ACKS_ALL` answered once the batch is below the high
    /// watermark (every in-sync replica holds it durably) and the ISR then had at least
    /// min-insync members; `ACKS_LEADER` answered after the leader's own durable append (the
    /// batch can be lost if this leader then fails before any follower copied it — Kafka's
    /// acks=1). Either way the batch reaches streams and fetches only once committed.
    func produceReplicated(_ requestID: UInt64, _ request: Ganglion_V1_ProduceRequest, key: TopicPartition, log: PartitionLog,
                           state: PartitionState, batch: Frame, respond: @escaping Respond) throws {
        let leader = try leadership(key, state: state)
        let acksAll = request.acks == .all || request.acks == .unspecified
        let silent = request.acks == .none
        if acksAll { try leader.checkAcksAll() }
        let minInSync = leader.minInSync
        let publish = self.publish
        try batch.withUnsafeBytes { bytes in
            try log.append(bytes, leaderEpoch: leader.leaderEpoch) { result in
                switch result {
                case .success(let appended):
                    if !appended.duplicate {
                        NodeMetrics.produced(topic: key.topic, records: Int(appended.lastOffset - appended.firstOffset + 1), bytes: appended.size)
                    }
                    let response = Self.produceResponse(appended, log: log)
                    let answer = silent ? [] : ((try? Self.success(requestID, response)) ?? Self.error(requestID, .internal, "encoding failed"))
                    let stream = appended.duplicate ? nil : Self.streamMessage(key, appended: appended, batch: batch)
                    if !acksAll { respond(answer, nil) }
                    leader.appended(end: appended.lastOffset + 1) { isrSize in
                        if let stream, isrSize != nil { publish(stream) }
                        if isrSize != nil, !appended.duplicate { self.committed(key, batch: batch) }
                        guard acksAll else { return }
                        guard let isrSize else {
                            return respond(Self.error(requestID, .timeout,
                                                      "node \(self.nodeID) stopped leading \(key.topic)-\(key.partition) before the batch was committed; its outcome is unknown — retry (an idempotent producer's retry is stored once)",
                                                      retryAfter: 100), nil)
                        }
                        guard isrSize >= minInSync else {
                            return respond(Self.error(requestID, .notEnoughReplicas,
                                                      "\(key.topic)-\(key.partition) had \(isrSize) in-sync replica(s) when the batch was committed, fewer than min-insync \(minInSync); not acknowledged — retry",
                                                      retryAfter: 100), nil)
                        }
                        respond(answer, nil)
                    }
                    // Followers waiting for records copy the batch now; those taking the
                    // replication stream get it published (it is servable: durable here).
                    if !appended.duplicate {
                        self.fetchWaiters.wake(key)
                        if let stream, leader.publishesStream {
                            var header = Ganglion_V1_StreamBatchHeader()
                            header.topic = key.topic
                            header.partition = UInt32(key.partition)
                            header.baseOffset = appended.firstOffset
                            header.nextOffset = appended.lastOffset + 1
                            header.highWatermark = leader.highWatermark
                            publish([Frame(StreamTopic.replicationFrame(for: key)), Frame((try? header.serializedBytes()) ?? [UInt8]()), stream[2]])
                        }
                    }
                case .failure(let error):
                    respond(silent ? [] : Self.error(requestID, (error as? LogError).map(Self.code(for:)) ?? .internal, "\(error)"), nil)
                }
            }
        }
    }
}
