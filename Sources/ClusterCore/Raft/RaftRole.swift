/// What a Raft node currently is.
public enum RaftRole: String, Sendable, Hashable {
    /// Follows a leader (or waits for one).
    case follower
    /// Asks for pre-votes before raising its term.
    case preCandidate
    /// Campaigns for votes in its term.
    case candidate
    /// Leads its term: takes proposals and replicates them.
    case leader
}

/// The leader's view of one follower's log.
struct RaftProgress: Sendable, Hashable {
    /// The highest index known to match the leader's log.
    var match: Int64 = 0
    /// The next index to send.
    var next: Int64
    /// Whether the follower answered since the last check-quorum round.
    var recentlyActive = false
}
