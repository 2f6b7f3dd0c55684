/// One Raft voter as a pure state machine, in the shape of etcd's raft library: the application
/// feeds it messages (``step(_:)``), clock ticks (``tick()``) and proposals (``propose(_:)``), and
/// each call returns a ``RaftReady`` saying what to persist, then send, then apply.
///
/// No I/O, no clock, no randomness except the injected generator that randomises election
/// timeouts: the same inputs give the same outputs, so a simulation replays from its seed.
/// Pre-vote and check-quorum are on by default: a node that was cut off cannot disrupt a working
/// leader when it returns, and a leader that cannot reach a majority steps down within an
/// election timeout instead of going on as leader.
public struct RaftNode: Sendable {
    /// The node's settings.
    public let configuration: RaftConfiguration
    /// The latest term this node has seen.
    public internal(set) var term: Int64
    /// Whom this node voted for in `term`.
    public internal(set) var votedFor: String?
    /// What this node currently is.
    public internal(set) var role: RaftRole = .follower
    /// The leader of `term` as far as this node knows.
    public internal(set) var leader: String?
    /// The log.
    public internal(set) var log: RaftLog

    var progress: [String: RaftProgress] = [:]
    var votes: [String: Bool] = [:]
    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    var outbox: [RaftMessage] = []
    var handedOverHardState: RaftHardState
    var random: any RandomNumberGenerator & Sendable

    /// A node that (re)starts from what it persisted; `random` randomises its election timeouts.
    public init(configuration: RaftConfiguration, persisted: RaftPersistentState = RaftPersistentState(),
                random: some RandomNumberGenerator & Sendable) throws(RaftError) {
        try configuration.validate()
        self.configuration = configuration
        self.log = try RaftLog(persisted: persisted)
        self.term = persisted.hardState.term
        self.votedFor = persisted.hardState.vote
        self.handedOverHardState = persisted.hardState
        self.random = random
        resetElectionTimeout()
    }

    /// This node's id.
    public var id: String { configuration.id }
    /// The other voters.
    public var peers: [String] { configuration.voters.filter { $0 != id } }
    /// How many voters make a majority.
    public var quorum: Int { configuration.voters.count / 2 + 1 }
    /// The state to persist: term, vote, commit index.
    public var hardState: RaftHardState { RaftHardState(term: term, vote: votedFor, commit: log.committed) }
    /// The current randomised election timeout, in ticks (in [T, 2T) for T = `electionTicks`).
    public var electionTimeout: Int { randomizedElectionTimeout }

    /// Advances the node's clock by one tick: followers and candidates campaign when their
    /// election timeout passes; a leader sends heartbeats and checks that a majority still answers.
    public mutating func tick() -> RaftReady {
        if role == .leader {
            tickLeader()
        } else {
            electionElapsed += 1
            if electionElapsed >= randomizedElectionTimeout { campaign() }
        }
        return makeReady()
    }

    /// Handles a message from another voter.
    public mutating func step(_ message: RaftMessage) -> RaftReady {
        handle(message)
        return makeReady()
    }

    /// Appends `data` as a new command if this node is the leader; it commits once a majority has it.
    /// Its index is ``RaftLog/lastIndex`` right after the call.
    public mutating func propose(_ data: [UInt8]) throws(RaftError) -> RaftReady {
        guard role == .leader else {
            throw RaftError(code: .notLeader,
                            message: "node \(id) is not the leader of term \(term)" + (leader.map { "; the leader is \($0)" } ?? "; no leader known, retry after the election"),
                            leader: leader)
        }
        appendAsLeader(kind: .command, data: data)
        return makeReady()
    }

    /// On the leader: how far each follower's log is known to match (its match index); empty otherwise.
    public var followerMatch: [String: Int64] {
        guard role == .leader else { return [:] }
        return progress.filter { $0.key != id }.mapValues(\.match)
    }

    /// Collects what is pending without new input: after a restart, the committed entries to
    /// apply again (the application calls it once before its first tick).
    public mutating func advance() -> RaftReady { makeReady() }

    /// Records that the application has persisted a snapshot of its state after applying entries
    /// up to `index`, so the log up to there is dropped; followers too far behind get the snapshot.
    public mutating func compact(through index: Int64, data: [UInt8]) throws(RaftError) {
        guard index > log.snapshotIndex, index <= log.applied, let term = log.term(at: index) else {
            throw RaftError(code: .compactionOutOfRange,
                            message: "cannot snapshot at \(index): the log is compacted through \(log.snapshotIndex) and applied through \(log.applied)")
        }
        log.compact(into: RaftSnapshot(index: index, term: term, voters: configuration.voters, data: data))
    }

    /// Collects everything produced since the last call into one directive.
    mutating func makeReady() -> RaftReady {
        var ready = RaftReady()
        (ready.snapshot, ready.entries) = log.takeUnstable()
        if hardState != handedOverHardState {
            ready.hardState = hardState
            handedOverHardState = hardState
        }
        ready.messages = outbox
        outbox = []
        ready.committedEntries = log.takeCommitted()
        return ready
    }

    /// Queues a message to `to` in this node's term.
    mutating func send(to: String, term: Int64? = nil, _ kind: RaftMessage.Kind) {
        outbox.append(RaftMessage(from: id, to: to, term: term ?? self.term, kind: kind))
    }

    /// Picks a new election timeout in [T, 2T).
    mutating func resetElectionTimeout() {
        let base = configuration.electionTicks
        randomizedElectionTimeout = base + Int(random.next() % UInt64(base))
    }
}
