import ClusterCore
import EventLog
import Foundation
import GanglionWire
import SwiftProtobuf
import ZeroMQ

/// Consumer groups on a cluster (``GroupPlacement``): each group's requests are served by the
/// leader of its `__consumer_offsets` partition, wherever they arrive — forwarded there once, or
/// answered NOT_COORDINATOR (retry) while the partition has no leader or does not exist yet.
extension NodeAPI {
    /// The group request kinds.
    static let groupKinds: Set<Ganglion_V1_RequestKind> = [.groupHeartbeat, .offsetCommit, .offsetFetch, .describeGroup, .listGroups, .resetOffsets]

    /// The group a group request names (nil for a listing, which names none).
    func groupName(of kind: Ganglion_V1_RequestKind, body: Frame) throws -> String? {
        switch kind {
        case .groupHeartbeat: return (try decode(body) as Ganglion_V1_GroupHeartbeatRequest).group
        case .offsetCommit: return (try decode(body) as Ganglion_V1_OffsetCommitRequest).group
        case .offsetFetch: return (try decode(body) as Ganglion_V1_OffsetFetchRequest).group
        case .describeGroup: return (try decode(body) as Ganglion_V1_DescribeGroupRequest).group
        case .resetOffsets: return (try decode(body) as Ganglion_V1_ResetOffsetsRequest).group
        default: return nil
        }
    }

    /// The service coordinating `group` on this node: a cluster of one's, or the one of the
    /// group's `__consumer_offsets` partition while this node leads it (loaded from the
    /// partition's log on its first request of a leadership).
    /// - Throws: NOT_COORDINATOR when this node does not lead the partition now.
    func groupService(for group: String) throws -> GroupService {
        if let local = groups.local { return local }
        let key = TopicPartition(GroupPlacement.offsetsTopic, GroupPlacement.partition(of: group))
        guard let configuration = metadata.state.topics[key.topic], let state = placement(key) else {
            throw ProtocolFailure(.notCoordinator, "the cluster has not made \(GroupPlacement.offsetsTopic) yet (it waits for its nodes to register); retry")
        }
        guard state.leader == nodeID, let replica = replicas?.leader(for: key), replica.leaderEpoch == state.leaderEpoch else {
            let leader = state.leader.map { "node \($0)" } ?? "no node (its partition has no leader now)"
            throw ProtocolFailure(.notCoordinator, "node \(nodeID) does not coordinate group \(group): \(leader) leads \(key.topic)-\(key.partition); retry")
        }
        return try groups.service(partition: key.partition, leaderEpoch: state.leaderEpoch) {
            let log = try logs.log(key, configuration: configuration)
            let storage = ReplicatedOffsetsStorage(log: log) { [weak self] batch in
                guard let self else { throw ProtocolFailure(.notCoordinator, "the node is stopping") }
                // Never forwarded: a coordinator that lost its partition must not write through the next one.
                return try await self.store(batch, topic: key.topic, partition: UInt32(key.partition), acks: .all, forward: false)
            }
            return try GroupService(storage: storage, metadata: metadata, sessionTimeout: groupSessionTimeout)
        }
    }

    /// Whether this node leads `__consumer_offsets` partition `partition` at `leaderEpoch`.
    func leadsOffsets(_ partition: Int32, at leaderEpoch: Int32) -> Bool {
        let key = TopicPartition(GroupPlacement.offsetsTopic, partition)
        guard let state = placement(key), state.leader == nodeID, state.leaderEpoch == leaderEpoch else { return false }
        return replicas?.leader(for: key)?.leaderEpoch == leaderEpoch
    }

    /// Serves a group request on a cluster: here when this node coordinates the group, else
    /// forwarded once to its coordinator; a listing gathers every coordinator's groups.
    /// Returns false when the request is this node's to handle.
    func routeGroupRequest(_ header: Ganglion_V1_RequestHeader, frames: ArraySlice<Frame>, body: Frame, respond: @escaping Respond) -> Bool {
        let forwarded = header.clientID.hasPrefix(Self.forwardedPrefix)
        do {
            guard let group = try groupName(of: header.kind, body: body) else {
                if forwarded { return false }
                listEveryCoordinatorsGroups(header, frames: frames, respond: respond)
                return true
            }
            let key = TopicPartition(GroupPlacement.offsetsTopic, GroupPlacement.partition(of: group))
            if (try? groupService(for: group)) != nil { return false }
            guard !forwarded, let leader = placement(key)?.leader, leader != nodeID,
                  let endpoint = metadata.state.nodes[leader]?.api, let requests = cluster.requests else {
                _ = try groupService(for: group)
                return false
            }
            relay(header, frames: frames, to: endpoint, via: requests, what: "group \(group)'s coordinator (node \(leader))", respond: respond)
        } catch let failure as ProtocolFailure {
            NodeMetrics.rejected(failure.code)
            respond(Self.error(header.requestID, failure.code, failure.message, retryAfter: failure.code == .notCoordinator ? 200 : 0), nil)
        } catch {
            respond(Self.error(header.requestID, .internal, "\(error)"), nil)
        }
        return true
    }

    /// Sends a request on to another node (marked forwarded: never sent on again) and relays
    /// its answer under the original request id.
    /// A failure to get an answer is reported as `failureCode` (the failure's own code when nil).
    /// `leader` names the controller leader a forwarded metadata write went to (its forward is
    /// abandoned when leadership moves).
    func relay(_ header: Ganglion_V1_RequestHeader, frames: ArraySlice<Frame>, to endpoint: String, via requests: PeerRequests,
               timeout: Duration = .seconds(10), leader: String? = nil, what: String, failureCode: Ganglion_V1_ErrorCode? = .notCoordinator,
               respond: @escaping Respond) {
        let requestID = header.requestID
        requests.request(endpoint, kind: header.kind, frames: Array(frames.dropFirst()), timeout: timeout,
                         clientID: Self.forwardedPrefix + nodeID, traceparent: header.traceparent, leader: leader) { result in
            switch result {
            case .success(var reply):
                if var answer = try? reply[0].withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }) {
                    answer.requestID = requestID
                    if let bytes = try? answer.serializedBytes() as [UInt8] { reply[0] = Frame(bytes) }
                }
                respond(reply, nil)
            case .failure(let failure):
                // Nothing reached the node, or its answer was lost (a group request is safe to
                // send again, so the client retries NOT_COORDINATOR).
                respond(Self.error(requestID, failureCode ?? failure.code, "forwarding to \(what): \(failure.message)",
                                   retryAfter: failureCode == .notCoordinator ? 200 : 0), nil)
            }
        }
    }

    /// Every group of the cluster: this node's, and those of every other node leading a
    /// `__consumer_offsets` partition (asked at once; one that does not answer is left out).
    private func listEveryCoordinatorsGroups(_ header: Ganglion_V1_RequestHeader, frames: ArraySlice<Frame>, respond: @escaping Respond) {
        let requestID = header.requestID
        let state = metadata.state
        var mine = Ganglion_V1_ListGroupsResponse()
        for service in groups.services { mine.groups += service.list().groups }
        let others = Set((state.partitions[GroupPlacement.offsetsTopic] ?? []).compactMap(\.leader)).subtracting([nodeID])
            .compactMap { state.nodes[$0]?.api }
        guard !others.isEmpty, let requests = cluster.requests else {
            mine.groups.sort { $0.group < $1.group }
            return respond((try? Self.success(requestID, mine)) ?? Self.error(requestID, .internal, "encoding failed"), nil)
        }
        let gathered = Gathered(remaining: others.count, response: mine)
        for endpoint in others {
            requests.request(endpoint, kind: .listGroups, frames: Array(frames.dropFirst()), timeout: .seconds(5),
                             clientID: Self.forwardedPrefix + nodeID, traceparent: header.traceparent) { result in
                let done = gathered.lock.withLock { () -> Ganglion_V1_ListGroupsResponse? in
                    let state = gathered
                    if case .success(let reply) = result, reply.count >= 2,
                       let listed = try? reply[1].withUnsafeBytes({ try Ganglion_V1_ListGroupsResponse(inPlace: $0) }) {
                        state.response.groups += listed.groups
                    }
                    state.remaining -= 1
                    return state.remaining == 0 ? state.response : nil
                }
                guard var all = done else { return }
                all.groups.sort { $0.group < $1.group }
                respond((try? Self.success(requestID, all)) ?? Self.error(requestID, .internal, "encoding failed"), nil)
            }
        }
    }

    /// The controller leader makes `__consumer_offsets` once enough nodes have registered to
    /// give it min(3, voters) replicas (compacted, min-insync min(2, replicas)).
    func ensureOffsetsTopic(voters: Int) {
        let state = metadata.state
        guard cluster.isClustered, cluster.isLeader, state.topics[GroupPlacement.offsetsTopic] == nil else { return }
        let replicas = min(3, max(1, voters))
        guard state.nodes.values.filter({ $0.state == .alive }).count >= replicas, offsetsTopicPending.begin() else { return }
        let configuration = TopicConfiguration(partitions: GroupPlacement.offsetsPartitions, replicationFactor: Int32(replicas),
                                               retentionMilliseconds: nil, compacted: true, minInSyncReplicas: Int32(min(2, replicas)))
        metadata.commit(deciding: { state in
            guard state.topics[GroupPlacement.offsetsTopic] == nil else { throw UnchangedMetadata() }
            return try Self.placed(GroupPlacement.offsetsTopic, configuration, replicationFactor: UInt32(replicas), in: state)
        }) { [offsetsTopicPending] _ in offsetsTopicPending.end() }
    }

    /// On a cluster, sends an ask to the node where its reply will arrive — the leader of the
    /// reply's partition of `<agent>.replies` — and returns that node's answer; nil when this
    /// node is where the reply arrives (or the ask was forwarded here already).
    func askWhereTheReplyArrives(_ request: Ganglion_V1_AskRequest, forwarded: Bool) async throws -> Ganglion_V1_AskResponse? {
        guard cluster.isClustered, !forwarded else { return nil }
        let state = metadata.state
        let topic = AgentAsk.repliesTopic(request.agent)
        guard let replies = state.topics[topic] else { return nil }
        let partition = KeyPartitioner.partition(for: Array(request.key), partitionCount: replies.partitions)
        guard let leader = placement(TopicPartition(topic, partition))?.leader, leader != nodeID,
              let endpoint = state.nodes[leader]?.api, let requests = cluster.requests else { return nil }
        let timeout = Duration.milliseconds(Int(request.timeoutMs == 0 ? 5_000 : request.timeoutMs)) + .seconds(2)
        let frames = [Frame(try request.serializedBytes() as [UInt8])]
        let reply: Result<[Frame], ProtocolFailure> = await withCheckedContinuation { continuation in
            requests.request(endpoint, kind: .ask, frames: frames, timeout: timeout, clientID: Self.forwardedPrefix + nodeID) {
                continuation.resume(returning: $0)
            }
        }
        let answer = try reply.mapError { ProtocolFailure($0.code, "forwarding the ask to node \(leader), where its reply arrives: \($0.message)") }.get()
        guard let header = try? answer[0].withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }) else {
            throw ProtocolFailure(.internal, "node \(leader) answered the ask with no response header")
        }
        guard header.error == .none else { throw ProtocolFailure(header.error, header.errorMessage) }
        guard answer.count >= 2 else { throw ProtocolFailure(.internal, "node \(leader) answered the ask with no body") }
        return try answer[1].withUnsafeBytes { try Ganglion_V1_AskResponse(inPlace: $0) }
    }

    /// The input topics of agent `agent`: its group's, known to a coordinator here, or else
    /// those its changelog topics name (`<agent>.changelog.<topic>`), which every node knows.
    func agentTopics(_ agent: String) -> [String] {
        let known = groups.topics(ofGroup: agent)
        if !known.isEmpty { return known.sorted() }
        let prefix = "\(agent).changelog."
        return metadata.state.topics.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            .filter { metadata.state.topics[$0] != nil }.sorted()
    }
}

/// The answers of a listing gathered from several nodes.
private final class Gathered: @unchecked Sendable {
    // Both are guarded by `lock`.
    let lock = NSLock()
    var remaining: Int
    var response: Ganglion_V1_ListGroupsResponse

    init(remaining: Int, response: Ganglion_V1_ListGroupsResponse) {
        self.remaining = remaining
        self.response = response
    }
}
