/// The application's state at a log index: it replaces the log up to `index`, on disk (compaction)
/// and on a follower too far behind for the leader's log to catch it up (InstallSnapshot).
public struct RaftSnapshot: Sendable, Hashable {
    /// The last log index the snapshot covers.
    public var index: Int64
    /// The term of the entry at `index`.
    public var term: Int64
    /// The voters at `index` (static today; kept so that configuration changes can come).
    public var voters: [String]
    /// The application's state, opaque to Raft.
    public var data: [UInt8]

    /// A snapshot of the state after applying entries up to `index`.
    public init(index: Int64, term: Int64, voters: [String], data: [UInt8]) {
        self.index = index
        self.term = term
        self.voters = voters
        self.data = data
    }
}
