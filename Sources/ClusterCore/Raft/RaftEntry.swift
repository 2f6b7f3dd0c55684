/// One record of the Raft log: its position, the term of the leader that created it, and what it carries.
///
/// The `kind` lets the log carry more than application commands: a new leader's empty entry today,
/// configuration changes later (a new kind, so old logs stay readable).
public struct RaftEntry: Sendable, Hashable {
    /// What an entry carries.
    public enum Kind: UInt8, Sendable, Hashable {
        /// An application command (a metadata record): applied by the state machine.
        case command = 0
        /// The empty entry a new leader appends so that earlier terms' entries can commit (Raft §5.4.2).
        case leaderNoop = 1
    }

    /// The term of the leader that created the entry.
    public var term: Int64
    /// The position in the log, from 1.
    public var index: Int64
    /// What the entry carries.
    public var kind: Kind
    /// The command's bytes (empty for a no-op).
    public var data: [UInt8]

    /// An entry at `index` created in `term`.
    public init(term: Int64, index: Int64, kind: Kind = .command, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }
}
