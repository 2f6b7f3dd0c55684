import ClusterCore
import EventLog
import Foundation
import GanglionWire
import SwiftProtobuf
import ZeroMQ

/// The cluster's requests: Raft between voters, observers' metadata fetches, node heartbeats,
/// the cluster's status — and the forwarding of metadata writes to the controller leader.
extension NodeAPI {
    /// The partition key under which fetches of the metadata log wait.
    static let metadataLogKey = TopicPartition("__metadata", 0)
    /// The client id prefix of a request forwarded by a node (never forwarded again).
    static let forwardedPrefix = "ganglion-forward:"

    /// Whether a request must be served by the controller leader: it writes metadata. (Group
    /// requests go to their group's coordinator instead: ``routeGroupRequest(_:frames:body:respond:)``.)
    func needsController(_ kind: Ganglion_V1_RequestKind, body: Frame) -> Bool {
        switch kind {
        case .createTopic, .deleteTopic, .initProducerID, .nodeHeartbeat, .alterPartition:
            return true
        case .registry:
            let request = try? body.withUnsafeBytes { try Ganglion_V1_RegistryRequest(inPlace: $0) }
            return (request?.method.uppercased() ?? "GET") != "GET"
        case .security:
            let request = try? body.withUnsafeBytes { try Ganglion_V1_SecurityRequest(inPlace: $0) }
            return request?.isChange ?? false
        default:
            return false
        }
    }

    /// Sends a request to the controller leader and relays its answer, or answers NOT_CONTROLLER
    /// when no leader is known (or the request was already forwarded once).
    func forwardToController(_ header: Ganglion_V1_RequestHeader, frames: ArraySlice<Frame>, respond: @escaping Respond) {
        let requestID = header.requestID
        guard !header.clientID.hasPrefix(Self.forwardedPrefix) else {
            NodeMetrics.rejected(.notController)
            return respond(Self.error(requestID, .notController, "node \(nodeID) is no longer the controller leader; retry", retryAfter: 100), nil)
        }
        guard let leader = cluster.controller.leader, let endpoint = cluster.leaderEndpoint, let requests = cluster.requests else {
            NodeMetrics.rejected(.notController)
            return respond(Self.error(requestID, .notController,
                                      "no controller leader is known to node \(nodeID) (an election is under way, or no quorum is reachable); nothing was applied — retry",
                                      retryAfter: 200), nil)
        }
        relay(header, frames: frames, to: endpoint, via: requests, timeout: cluster.settings.commitTimeout + .seconds(2), leader: leader,
              what: "the controller leader", failureCode: nil, respond: respond)
    }

    /// A Raft message from another voter (no reply).
    func receiveRaft(_ request: Ganglion_V1_RaftMessage) throws {
        guard case .voter(let quorum) = cluster.role else {
            throw ProtocolFailure(.unsupportedKind, "node \(nodeID) is not a controller voter")
        }
        quorum.receive(try RaftWire.decode(request))
    }

    /// Reads the committed metadata log (an observer following), waiting up to `max_wait_ms` for records.
    func controllerFetch(_ header: Ganglion_V1_RequestHeader, _ request: Ganglion_V1_ControllerFetchRequest, respond: @escaping Respond) throws {
        guard let storage = cluster.storage else {
            throw ProtocolFailure(.unsupportedKind, "node \(nodeID) is a cluster of one; it has no controller log to follow")
        }
        let requestID = header.requestID
        let maxBytes = Int(min(max(request.maxBytes, 1 << 10), 16 << 20))
        @Sendable func answer() throws -> [Frame] {
            var response = Ganglion_V1_ControllerFetchResponse()
            let view = cluster.controller
            response.leader = view.leader ?? ""
            response.term = view.term
            let log = storage.log
            response.commitOffset = log.highWatermark
            response.logStartOffset = log.logStartOffset
            if request.offset > log.highWatermark {
                // The follower is ahead of this voter's commit (it knew another voter): nothing to give.
                response.nextOffset = request.offset
                return try Self.success(requestID, response) + [Frame([UInt8]())]
            }
            if request.offset < log.logStartOffset {
                guard let (offset, bytes) = try storage.snapshotBytes() else {
                    throw ProtocolFailure(.offsetOutOfRange, "metadata offset \(request.offset) is outside \(log.logStartOffset)…\(log.highWatermark) and no snapshot exists")
                }
                response.snapshot = Data(bytes)
                response.snapshotOffset = offset
                response.nextOffset = offset
                return try Self.success(requestID, response) + [Frame([UInt8]())]
            }
            let read = try log.read(from: request.offset, maxBytes: maxBytes, upTo: log.highWatermark)
            response.nextOffset = read.nextOffset
            return try Self.success(requestID, response) + [Frame(read.bytes)]
        }
        let frames = try answer()
        guard frames.last?.isEmpty == true, frames.count == 3, request.maxWaitMs > 0 else { return respond(frames, nil) }
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(min(request.maxWaitMs, 10_000))))
        let waiters = fetchWaiters
        @Sendable func attempt(expired: Bool) {
            do {
                let again = try answer()
                if !expired, again.last?.isEmpty == true, waiters.park(Self.metadataLogKey, until: deadline, retry: attempt) { return }
                respond(again, nil)
            } catch let failure as ProtocolFailure {
                respond(Self.error(requestID, failure.code, failure.message), nil)
            } catch {
                respond(Self.error(requestID, .internal, "\(error)"), nil)
            }
        }
        if !waiters.park(Self.metadataLogKey, until: deadline, retry: attempt) { respond(frames, nil) }
    }

    /// A node's registration or heartbeat, on the controller leader: keeps its session alive and
    /// records a new incarnation, new endpoints, a return after fencing, or a graceful shutdown.
    func nodeHeartbeat(_ header: Ganglion_V1_RequestHeader, _ request: Ganglion_V1_NodeHeartbeatRequest, respond: @escaping Respond) {
        let requestID = header.requestID
        guard !request.nodeID.isEmpty else {
            return respond(Self.error(requestID, .malformedRequest, "a node heartbeat needs the node's id"), nil)
        }
        // An older incarnation (a zombie process) does not keep the registered one's session alive.
        if (metadata.state.nodes[request.nodeID]?.incarnation ?? 0) <= request.incarnation {
            cluster.sessions.heard(request.nodeID, incarnation: request.incarnation)
        }
        let node = ClusterNode(id: request.nodeID, incarnation: request.incarnation, voter: request.voter, api: request.api,
                               pub: request.pub, http: request.http)
        let shuttingDown = request.shuttingDown
        var response = Ganglion_V1_NodeHeartbeatResponse()
        let view = cluster.controller
        response.leader = view.leader ?? ""
        response.term = view.term
        let answer = response
        metadata.commit(deciding: { state in
            let current = state.nodes[node.id]
            if shuttingDown {
                guard let current, current.incarnation == node.incarnation, current.state != .shutdown else { throw UnchangedMetadata() }
                return .nodeShutdown(id: node.id, incarnation: node.incarnation)
            }
            if let current, current.sameRegistration(as: node) { throw UnchangedMetadata() }
            if let current, current.incarnation > node.incarnation {
                throw ProtocolFailure(.invalidConfig, "node \(node.id) incarnation \(node.incarnation) was replaced by incarnation \(current.incarnation)")
            }
            // A restarted node's earlier incarnation is fenced first when it holds replicas: its
            // partitions get new leader epochs (new leaders from the ISR) before the new
            // incarnation registers, so nothing it led continues under an epoch it lost track of.
            if let current, current.incarnation < node.incarnation, current.state == .alive,
               state.partitions.values.contains(where: { $0.contains { $0.leader == current.id || $0.isr.contains(current.id) } }) {
                return .nodeFenced(id: current.id, incarnation: current.incarnation)
            }
            return .nodeRegistered(node)
        }) { result in
            switch result {
            case .success(.nodeFenced):
                respond(Self.error(requestID, .busy, "the earlier incarnation of node \(node.id) was fenced; register again", retryAfter: 100), nil)
            case .success, .failure(is UnchangedMetadata): respond((try? Self.success(requestID, answer)) ?? [], nil)
            case .failure(let error): respond(Self.reply(requestID, Result<Ganglion_V1_NodeHeartbeatResponse, any Error>.failure(Self.metadataFailure(error))), nil)
            }
        }
    }

    /// Gives up forwarded requests whose leader no longer leads (any node of a cluster, from a timer).
    func abandonStaleForwards() {
        guard cluster.isClustered, let requests = cluster.requests else { return }
        requests.abandonForwards(notTo: cluster.controller.leader)
    }

    /// Fences the live nodes whose sessions expired (on the controller leader, from a timer).
    func fenceExpiredNodes() {
        cluster.sessions.noteLeader(cluster.controller.leader)
        guard cluster.isLeader else { return }
        for node in cluster.sessions.expired(in: metadata.state, term: cluster.controller.term, timeout: cluster.settings.nodeSessionTimeout,
                                             previousLeaderGrace: cluster.settings.nodeHeartbeat * 2)
        where node.id != nodeID {
            metadata.commit(deciding: { state in
                guard let current = state.nodes[node.id], current.incarnation == node.incarnation, current.state == .alive else { throw UnchangedMetadata() }
                return .nodeFenced(id: node.id, incarnation: node.incarnation)
            }) { result in
                if case .success = result { NodeMetrics.nodeFenced() }
            }
        }
    }

    /// The cluster as this node knows it.
    func clusterStatus() -> Ganglion_V1_ClusterStatusResponse {
        var response = Ganglion_V1_ClusterStatusResponse()
        let view = cluster.controller
        response.controller.leader = view.leader ?? ""
        response.controller.term = view.term
        response.controller.voters = cluster.voterIDs
        response.controller.commitOffset = cluster.isClustered ? cluster.commitOffset : metadata.state.appliedCount
        response.answeredBy = nodeID
        for node in metadata.state.nodes.values.sorted(by: { $0.id < $1.id }) {
            var status = Ganglion_V1_NodeStatus()
            status.id = node.id
            status.voter = node.voter
            status.state = node.state.rawValue
            status.api = node.api
            status.pub = node.pub
            status.http = node.http
            status.incarnation = node.incarnation
            response.nodes.append(status)
        }
        for (name, configuration) in metadata.state.topics.sorted(by: { $0.key < $1.key }) {
            if let topic = try? describe(name, configuration) { response.topics.append(topic) }
        }
        return response
    }
}

/// A decision that found nothing to change (a heartbeat of a registered node).
struct UnchangedMetadata: Error {}
