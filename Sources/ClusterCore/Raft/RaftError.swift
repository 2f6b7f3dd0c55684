/// Why a Raft operation was refused.
public struct RaftError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of refusal.
    public enum Code: String, Sendable, Hashable {
        /// Only the leader takes proposals: send it to `leader` (if known) or retry after an election.
        case notLeader = "not_leader"
        /// The configuration is unusable (the message says which setting).
        case invalidConfiguration = "invalid_configuration"
        /// The persisted state is inconsistent (entries not contiguous, commit beyond the log).
        case invalidPersistentState = "invalid_persistent_state"
        /// A snapshot was asked for an index that is already compacted or not yet applied.
        case compactionOutOfRange = "compaction_out_of_range"
    }

    /// What kind of refusal.
    public var code: Code
    /// What is wrong and what to do.
    public var message: String
    /// For `notLeader`: the leader this node knows of, if any.
    public var leader: String?

    /// A refusal.
    public init(code: Code, message: String, leader: String? = nil) {
        self.code = code
        self.message = message
        self.leader = leader
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
