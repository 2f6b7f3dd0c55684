import ClusterCore
import EventLog
import Foundation
import GanglionWire
import ZeroMQ

/// Replicated partitions: followers' REPLICA_FETCH on the leader, leaders' ALTER_PARTITION on
/// the controller leader, and the checks that keep produce and fetch on the partition's leader.
extension NodeAPI {
    /// A replicated partition's recorded state, or nil for a partition of a topic that is not
    /// replicated (a cluster of one: this node holds and leads it).
    func placement(_ key: TopicPartition) -> PartitionState? {
        guard let states = metadata.state.partitions[key.topic], Int(key.partition) < states.count else { return nil }
        return states[Int(key.partition)]
    }

    /// A partition's high watermark as this node knows it: exact on its leader (or on a cluster of
    /// one), this node's copy's on a follower, nil where this node holds no copy — no empty log
    /// is opened for a partition held elsewhere.
    func knownHighWatermark(_ partition: TopicPartition) -> Int64? {
        let state = metadata.state
        guard let configuration = state.topics[partition.topic], partition.partition >= 0, partition.partition < configuration.partitions else { return nil }
        if let placed = state.partitions[partition.topic], Int(partition.partition) < placed.count,
           !placed[Int(partition.partition)].replicas.contains(nodeID) {
            return nil
        }
        return try? logs.log(partition, configuration: configuration).highWatermark
    }

    /// The highest offset a group may commit for a partition: its high watermark where this node
    /// leads it; no bound but the partition's existence where another node does (only the leader
    /// knows the high watermark exactly; a follower's lags it); nil for no such partition.
    func commitBound(_ partition: TopicPartition) -> Int64? {
        let state = metadata.state
        guard let configuration = state.topics[partition.topic], partition.partition >= 0, partition.partition < configuration.partitions else { return nil }
        if let placed = state.partitions[partition.topic], Int(partition.partition) < placed.count {
            guard let replica = replicas?.leader(for: partition), replica.leaderEpoch == placed[Int(partition.partition)].leaderEpoch else { return .max }
            return replica.highWatermark
        }
        return try? logs.log(partition, configuration: configuration).highWatermark
    }

    /// The leadership this node holds of a replicated partition, or the NOT_LEADER refusal that
    /// names who leads it.
    func leadership(_ key: TopicPartition, state: PartitionState) throws -> LeaderReplica {
        if let replica = replicas?.leader(for: key), replica.leaderEpoch == state.leaderEpoch { return replica }
        let leader = state.leader.map { "\($0) leads it at epoch \(state.leaderEpoch)" } ?? "it has no leader now (no in-sync replica is alive)"
        throw ProtocolFailure(.notLeader, "node \(nodeID) does not lead \(key.topic)-\(key.partition): \(leader); refresh metadata and retry")
    }

    /// A follower's fetch: checked against the leader epoch, then the follower's log against
    /// this one's epochs (divergence), counted as the follower's progress, and answered with the
    /// batches after it (waiting up to `max_wait_ms` when there are none). A follower that takes
    /// the replication stream never asks to wait (`max_wait_ms` 0: the leader publishes appended
    /// batches while one does) and reports its durable progress with `max_bytes` 0 (nothing is
    /// read; the answer carries the high watermark).
    func replicaFetch(_ header: Ganglion_V1_RequestHeader, _ request: Ganglion_V1_ReplicaFetchRequest, respond: @escaping Respond) throws {
        let key = TopicPartition(request.topic, Int32(request.partition))
        guard let state = placement(key) else {
            throw ProtocolFailure(.unknownTopic, "\(request.topic)-\(request.partition) is not a replicated partition on node \(nodeID)")
        }
        if request.leaderEpoch < state.leaderEpoch {
            throw ProtocolFailure(.fencedLeaderEpoch, "leader epoch \(request.leaderEpoch) of \(request.topic)-\(request.partition) is older than \(state.leaderEpoch)")
        }
        let leader = try leadership(key, state: state)
        guard request.leaderEpoch == leader.leaderEpoch else {
            throw ProtocolFailure(.notLeader, "node \(nodeID) leads \(request.topic)-\(request.partition) at epoch \(leader.leaderEpoch), not \(request.leaderEpoch)")
        }
        let log = leader.log
        let requestID = header.requestID
        var response = Ganglion_V1_ReplicaFetchResponse()
        if request.lastFetchedEpoch >= 0 {
            let mine = log.endOffset(forLeaderEpoch: request.lastFetchedEpoch)
            if mine == nil || mine!.epoch != request.lastFetchedEpoch || mine!.endOffset < request.fetchOffset {
                response.diverging = true
                response.divergingEpoch = mine?.epoch ?? -1
                response.divergingEndOffset = mine?.endOffset ?? log.logStartOffset
                response.highWatermark = leader.highWatermark
                response.logStartOffset = log.logStartOffset
                response.logEndOffset = log.logEndOffset
                return respond(try Self.success(requestID, response) + [Frame([UInt8]())], nil)
            }
        }
        if request.fetchOffset >= log.logStartOffset {
            let before = leader.highWatermark
            if leader.followerFetched(request.replicaID, offset: request.fetchOffset) > before { fetchWaiters.wake(key) }
        }
        leader.follower(request.replicaID, takesStream: request.maxWaitMs == 0)
        if request.maxBytes == 0 {
            var report = Ganglion_V1_ReplicaFetchResponse()
            report.highWatermark = leader.highWatermark
            report.logStartOffset = log.logStartOffset
            report.logEndOffset = log.logEndOffset
            report.nextOffset = request.fetchOffset
            return respond(try Self.success(requestID, report) + [Frame([UInt8]())], nil)
        }
        let maxBytes = Int(min(max(request.maxBytes, 1 << 10), 16 << 20))
        @Sendable func answer() throws -> [Frame] {
            var response = Ganglion_V1_ReplicaFetchResponse()
            response.highWatermark = leader.highWatermark
            response.logStartOffset = log.logStartOffset
            response.logEndOffset = log.logEndOffset
            guard request.fetchOffset >= log.logStartOffset, request.fetchOffset < leader.servableEnd else {
                response.nextOffset = request.fetchOffset
                return try Self.success(requestID, response) + [Frame([UInt8]())]
            }
            let read = try log.read(from: request.fetchOffset, maxBytes: maxBytes, upTo: leader.servableEnd)
            response.nextOffset = read.nextOffset
            return try Self.success(requestID, response) + [Frame(read.bytes)]
        }
        let frames = try answer()
        guard frames.last?.isEmpty == true, request.maxWaitMs > 0, request.fetchOffset >= log.logStartOffset else { return respond(frames, nil) }
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(min(request.maxWaitMs, 5_000))))
        let waiters = fetchWaiters
        @Sendable func attempt(expired: Bool) {
            do {
                let again = try answer()
                if !expired, again.last?.isEmpty == true, waiters.park(key, until: deadline, retry: attempt) { return }
                respond(again, nil)
            } catch let failure as ProtocolFailure {
                respond(Self.error(requestID, failure.code, failure.message), nil)
            } catch {
                respond(Self.error(requestID, .internal, "\(error)"), nil)
            }
        }
        if !waiters.park(key, until: deadline, retry: attempt) { respond(frames, nil) }
    }

    /// A leader's request for a new ISR, decided on the controller leader against the recorded
    /// state (refused unless it comes from the current leader at the current epochs); a replica
    /// joins only while its node is alive.
    func alterPartition(_ header: Ganglion_V1_RequestHeader, _ request: Ganglion_V1_AlterPartitionRequest, respond: @escaping Respond) {
        let requestID = header.requestID
        let key = TopicPartition(request.topic, Int32(request.partition))
        metadata.commit(deciding: { state in
            guard let states = state.partitions[key.topic], Int(key.partition) < states.count else {
                throw ProtocolFailure(.unknownTopic, "\(key.topic)-\(key.partition) is not a replicated partition")
            }
            let recorded = states[Int(key.partition)]
            let alive = request.isr.filter { state.nodes[$0]?.state == .alive || recorded.isr.contains($0) }
            do {
                let next = try PartitionLeadership.alterISR(recorded, from: request.leader, leaderEpoch: request.leaderEpoch,
                                                            partitionEpoch: request.partitionEpoch, isr: alive)
                // Nothing to change (a replica asked back in is not alive): nothing is written.
                guard next.isr != recorded.isr else { throw UnchangedISR(state: recorded) }
                return .partitionChanged(PartitionChange(topic: key.topic, partition: key.partition, state: next))
            } catch let error as MetadataError {
                throw ProtocolFailure(error.code == .staleEpoch ? .fencedLeaderEpoch : .invalidConfig, error.message)
            }
        }) { result in
            func answer(_ state: PartitionState) -> Ganglion_V1_AlterPartitionResponse {
                var response = Ganglion_V1_AlterPartitionResponse()
                response.isr = state.isr
                response.leaderEpoch = state.leaderEpoch
                response.partitionEpoch = state.partitionEpoch
                return response
            }
            switch result {
            case .success(.partitionChanged(let change)): respond(Self.reply(requestID, .success(answer(change.state))), nil)
            case .failure(let unchanged as UnchangedISR): respond(Self.reply(requestID, .success(answer(unchanged.state))), nil)
            case .success(let record): respond(Self.error(requestID, .internal, "unreachable: \(record) answers an ISR change"), nil)
            case .failure(let error):
                respond(Self.reply(requestID, Result<Ganglion_V1_AlterPartitionResponse, any Error>.failure(Self.metadataFailure(error))), nil)
            }
        }
    }

    /// Sends an ALTER_PARTITION through this node's request path (served here on the controller
    /// leader, forwarded to it otherwise).
    func sendAlterPartition(_ key: TopicPartition, leaderEpoch: Int32, partitionEpoch: Int32, isr: [String],
                            completion: @escaping @Sendable (Result<Ganglion_V1_AlterPartitionResponse, ProtocolFailure>) -> Void) {
        var request = Ganglion_V1_AlterPartitionRequest()
        request.topic = key.topic
        request.partition = UInt32(key.partition)
        request.leader = nodeID
        request.leaderEpoch = leaderEpoch
        request.partitionEpoch = partitionEpoch
        request.isr = isr
        var header = Ganglion_V1_RequestHeader()
        header.kind = .alterPartition
        header.version = Self.protocolVersion
        header.clientID = "ganglion-node:\(nodeID)"
        guard let headerBytes = try? header.serializedBytes() as [UInt8], let body = try? request.serializedBytes() as [UInt8] else { return }
        handle([Frame(headerBytes), Frame(body)][...], principal: NodeSecurity.nodePrincipal) { reply, _ in
            guard let first = reply.first, let answer = try? first.withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }) else {
                return completion(.failure(ProtocolFailure(.internal, "no answer")))
            }
            guard answer.error == .none, reply.count >= 2,
                  let response = try? reply[1].withUnsafeBytes({ try Ganglion_V1_AlterPartitionResponse(inPlace: $0) }) else {
                return completion(.failure(ProtocolFailure(answer.error, answer.errorMessage)))
            }
            completion(.success(response))
        }
    }
}

/// An ISR change that changes nothing: answered with the recorded state, nothing written.
struct UnchangedISR: Error {
    let state: PartitionState
}
