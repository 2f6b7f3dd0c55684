import ClusterCore
import Foundation

/// The controller leader's record of when it last heard from each node (in memory only: a new
/// leader gives every node a full session from the moment it took over).
final class NodeSessions: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var lastHeard: [String: (incarnation: UInt64, at: ContinuousClock.Instant)] = [:]
    private var leaderTerm: Int64 = -1
    private var currentLeader: String?
    private var previousLeader: String?

    /// The controller leader as this node sees it now (called periodically on every node), so a
    /// node that becomes leader knows whom it replaced.
    func noteLeader(_ leader: String?) {
        lock.withLock {
            guard let leader, leader != currentLeader else { return }
            previousLeader = currentLeader
            currentLeader = leader
        }
    }

    /// A heartbeat from `id`.
    func heard(_ id: String, incarnation: UInt64, at now: ContinuousClock.Instant = .now) {
        lock.withLock { lastHeard[id] = (incarnation, now) }
    }

    /// The live nodes in `state` not heard from within `timeout`, as of `now`. A leader of a new
    /// `term` first starts every session afresh — except the previous leader's, which gets only
    /// `previousLeaderGrace` (when given): a quorum just stopped hearing from it long enough to
    /// elect another, so it is likely gone, and its partitions should not wait a whole session
    /// more; alive, it heartbeats to the new leader within the grace.
    func expired(in state: MetadataState, term: Int64, timeout: Duration, now: ContinuousClock.Instant = .now,
                 previousLeaderGrace: Duration? = nil) -> [ClusterNode] {
        lock.withLock {
            if term != leaderTerm {
                leaderTerm = term
                lastHeard = lastHeard.filter { $0.value.at > now }
                for node in state.nodes.values { lastHeard[node.id] = (node.incarnation, now) }
                if let grace = previousLeaderGrace, let previous = previousLeader, previous != currentLeader,
                   let node = state.nodes[previous], grace < timeout {
                    lastHeard[previous] = (node.incarnation, now - (timeout - grace))
                }
            }
            return state.nodes.values.filter { node in
                guard node.state == .alive else { return false }
                guard let heard = lastHeard[node.id], heard.incarnation == node.incarnation else {
                    lastHeard[node.id] = (node.incarnation, now)
                    return false
                }
                return now - heard.at > timeout
            }.sorted { $0.id < $1.id }
        }
    }
}
