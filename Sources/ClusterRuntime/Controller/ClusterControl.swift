import ClusterCore
import Foundation
import GanglionWire
import Logging
import ZeroMQ

/// This node's part in the cluster: the only voter of its own cluster (no `--voters`), a
/// controller voter among several (``ControllerQuorum``), or an observer following the voters
/// (``MetadataFollower``). It says who leads the controller, forwards metadata writes to it,
/// and — on the leader — tracks node sessions.
final class ClusterControl: @unchecked Sendable {
    /// How this node holds the metadata.
    enum Role {
        /// A cluster of one: the node decides everything itself.
        case single
        /// A controller voter.
        case voter(ControllerQuorum)
        /// Follows the voters.
        case observer(MetadataFollower)
    }

    let nodeID: String
    let settings: ControllerSettings
    let role: Role
    /// Chosen at this start of the process: a newer incarnation replaces the older one's session.
    let incarnation: UInt64
    /// The local copy of the metadata log (voters and observers), served to observers.
    let storage: RaftLogStorage?
    /// The leader's view of node sessions.
    let sessions = NodeSessions()
    // Set once the socket loop runs; guarded by `lock`.
    private let lock = NSLock()
    private var peerRequests: PeerRequests?

    init(nodeID: String, settings: ControllerSettings, role: Role, storage: RaftLogStorage?) {
        self.nodeID = nodeID
        self.settings = settings
        self.role = role
        self.storage = storage
        incarnation = UInt64(Date().timeIntervalSince1970 * 1_000_000) &+ UInt64.random(in: 0..<1_000)
    }

    /// Whether this node is one of several.
    var isClustered: Bool {
        if case .single = role { return false }
        return true
    }

    /// Whether this node is a controller voter (the only voter of a cluster of one too).
    var isVoter: Bool {
        if case .observer = role { return false }
        return true
    }

    /// Whether this node leads the controller (always, for a cluster of one).
    var isLeader: Bool {
        switch role {
        case .single: true
        case .voter(let quorum): quorum.status.role == .leader
        case .observer: false
        }
    }

    /// The controller leader and term as this node knows them.
    var controller: (leader: String?, term: Int64) {
        switch role {
        case .single: (nodeID, 1)
        case .voter(let quorum): (quorum.status.leader, quorum.status.term)
        case .observer(let follower): follower.controller
        }
    }

    /// The voters' ids.
    var voterIDs: [String] {
        settings.voters.isEmpty ? [nodeID] : settings.voters.map(\.id)
    }

    /// The request endpoint of the controller leader, when known and not this node.
    var leaderEndpoint: String? {
        guard let leader = controller.leader, leader != nodeID else { return nil }
        return settings.voters.first { $0.id == leader }?.api
    }

    /// The node's requests to other nodes, once its socket loop runs.
    var requests: PeerRequests? {
        get { lock.withLock { peerRequests } }
        set { lock.withLock { peerRequests = newValue } }
    }

    /// The offset below which the local metadata log is committed.
    var commitOffset: Int64 { storage?.log.highWatermark ?? 0 }
}
