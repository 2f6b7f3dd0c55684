/// The settings of one Raft voter. Times are in ticks: the application calls ``RaftNode/tick()``
/// at a fixed interval of its clock.
public struct RaftConfiguration: Sendable, Hashable {
    /// This node's id; one of `voters`.
    public var id: String
    /// The voters of the cluster (static; reconfiguration is not supported yet).
    public var voters: [String]
    /// The base election timeout T: a follower that hears no leader for a random time in [T, 2T)
    /// campaigns, and a leader that hears from no majority for T steps down (check-quorum).
    public var electionTicks: Int
    /// How often the leader sends appends (heartbeats) to every follower.
    public var heartbeatTicks: Int
    /// Whether to ask for pre-votes before raising the term (keeps a rejoining node from disrupting).
    public var preVote: Bool
    /// Whether the leader steps down without a majority's responses within an election timeout,
    /// and followers who hear a leader ignore vote requests in that time.
    public var checkQuorum: Bool
    /// The most entries in one append message.
    public var maxEntriesPerAppend: Int

    /// A configuration with the recommended defaults (pre-vote and check-quorum on).
    public init(id: String, voters: [String], electionTicks: Int = 10, heartbeatTicks: Int = 1,
                preVote: Bool = true, checkQuorum: Bool = true, maxEntriesPerAppend: Int = 64) {
        self.id = id
        self.voters = voters
        self.electionTicks = electionTicks
        self.heartbeatTicks = heartbeatTicks
        self.preVote = preVote
        self.checkQuorum = checkQuorum
        self.maxEntriesPerAppend = maxEntriesPerAppend
    }

    /// Throws when a setting is unusable.
    func validate() throws(RaftError) {
        guard voters.contains(id) else {
            throw RaftError(code: .invalidConfiguration, message: "node \(id) is not among the voters \(voters)")
        }
        guard Set(voters).count == voters.count else {
            throw RaftError(code: .invalidConfiguration, message: "voters \(voters) name a node twice")
        }
        guard heartbeatTicks >= 1, electionTicks > heartbeatTicks else {
            throw RaftError(code: .invalidConfiguration,
                            message: "the election timeout (\(electionTicks) ticks) must exceed the heartbeat interval (\(heartbeatTicks), at least 1)")
        }
        guard maxEntriesPerAppend >= 1 else {
            throw RaftError(code: .invalidConfiguration, message: "maxEntriesPerAppend must be at least 1")
        }
    }
}
