/// A message between two Raft voters. Every message carries its sender's term.
public struct RaftMessage: Sendable, Hashable {
    /// What a message asks or answers.
    public enum Kind: Sendable, Hashable {
        /// Would you vote for me in term `term`? Asked before a real election, without raising
        /// anyone's term, so a node that was cut off cannot disrupt a working leader (Raft thesis §9.6).
        case preVote(lastIndex: Int64, lastTerm: Int64)
        /// The answer to a pre-vote.
        case preVoteResponse(granted: Bool)
        /// Vote for me in term `term` (Raft §5.2).
        case vote(lastIndex: Int64, lastTerm: Int64)
        /// The answer to a vote request.
        case voteResponse(granted: Bool)
        /// The leader's entries (empty for a heartbeat) (Raft §5.3).
        case append(RaftAppend)
        /// The answer to an append or a snapshot.
        case appendResponse(RaftAppendResponse)
        /// The leader's snapshot, for a follower that needs entries the leader has compacted away.
        case installSnapshot(RaftSnapshot)
    }

    /// The sender's id.
    public var from: String
    /// The receiver's id.
    public var to: String
    /// The sender's term (for a pre-vote, the term the sender would campaign in).
    public var term: Int64
    /// What the message asks or answers.
    public var kind: Kind

    /// A message from `from` to `to` in `term`.
    public init(from: String, to: String, term: Int64, kind: Kind) {
        self.from = from
        self.to = to
        self.term = term
        self.kind = kind
    }
}

/// The leader's request to append `entries` after the entry at `prevIndex` of term `prevTerm`.
public struct RaftAppend: Sendable, Hashable {
    /// The index of the entry just before `entries`.
    public var prevIndex: Int64
    /// The term of the entry at `prevIndex`; the follower refuses if its own differs.
    public var prevTerm: Int64
    /// The entries to append, contiguous from `prevIndex + 1` (empty for a heartbeat).
    public var entries: [RaftEntry]
    /// The leader's commit index.
    public var commit: Int64

    /// An append request.
    public init(prevIndex: Int64, prevTerm: Int64, entries: [RaftEntry], commit: Int64) {
        self.prevIndex = prevIndex
        self.prevTerm = prevTerm
        self.entries = entries
        self.commit = commit
    }
}

/// A follower's answer to an append or a snapshot.
public struct RaftAppendResponse: Sendable, Hashable {
    /// Whether the follower refused because its log does not match at the request's `prevIndex`.
    public var rejected: Bool
    /// Accepted: the highest index at which the follower's log is known to match the leader's.
    /// Rejected: the `prevIndex` that was refused.
    public var index: Int64
    /// Rejected: the highest index at which the follower's log might match (where the leader should probe next).
    public var hint: Int64

    /// An answer.
    public init(rejected: Bool, index: Int64, hint: Int64 = 0) {
        self.rejected = rejected
        self.index = index
        self.hint = hint
    }
}
