/// What a Raft node must have on disk before it sends any message that depends on it.
public struct RaftHardState: Sendable, Hashable {
    /// The latest term the node has seen.
    public var term: Int64
    /// Whom the node voted for in `term`, if anyone.
    public var vote: String?
    /// The highest log index known to be committed.
    public var commit: Int64

    /// A hard state; the zero value is a node that has never run.
    public init(term: Int64 = 0, vote: String? = nil, commit: Int64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// Everything a Raft node persisted: what it restarts from after a crash.
public struct RaftPersistentState: Sendable, Hashable {
    /// Term, vote and commit index.
    public var hardState: RaftHardState
    /// The latest snapshot, whose index is the compaction point of the log.
    public var snapshot: RaftSnapshot?
    /// The log entries after the snapshot, contiguous.
    public var entries: [RaftEntry]

    /// A persisted state; the default is a node that has never run.
    public init(hardState: RaftHardState = RaftHardState(), snapshot: RaftSnapshot? = nil, entries: [RaftEntry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }
}
