import ClusterCore
import Foundation
import Logging
import Metrics

/// The shell around a controller voter's ``RaftNode``: one serial queue drives it with the
/// node's clock (ticks), the other voters' messages and this node's proposals, and carries out
/// each ``RaftReady`` in order — persist (fsync), then send, then apply to the metadata store.
///
/// A proposal is answered once its entry is applied (success, or the state machine's refusal),
/// or with `NOT_CONTROLLER` when another leader's entry took its place, or `TIMEOUT` when no
/// quorum committed it in time. A storage failure stops the voter: it can no longer promise
/// what it persisted, so it stops voting and leading rather than risk it.
final class ControllerQuorum: @unchecked Sendable {
    /// What the rest of the node may read without the queue.
    struct Status: Sendable, Hashable {
        var leader: String?
        var term: Int64 = 0
        var role: RaftRole = .follower
        var commitIndex: Int64 = 0
        /// Whether this leader has applied an entry of its own term: only then does its applied
        /// state hold everything earlier leaders committed, so only then may it decide new records.
        var canDecide = false
    }

    /// A proposal waiting for its entry to be applied.
    private struct Pending {
        var term: Int64
        var proposed: ContinuousClock.Instant = .now
        var deadline: ContinuousClock.Instant
        var completion: @Sendable (Result<Void, any Error>) -> Void
    }

    let id: String
    let voters: [VoterAddress]
    private let settings: ControllerSettings
    private let queue = DispatchQueue(label: "ganglion.controller.raft")
    // `raft`, `pending`, `timer`, `failed` and `lastRole` belong to `queue`.
    private var raft: RaftNode
    private var pending: [Int64: Pending] = [:]
    private var timer: DispatchSourceTimer?
    private var failed = false
    /// The index of the first entry of this node's current term as leader (its no-op).
    private var termStartIndex: Int64?
    private let storage: RaftLogStorage
    private let store: ReplicatedMetadataStore
    private let send: @Sendable (RaftMessage) -> Void
    private let logger: Logger
    // `status` is guarded by `statusLock`.
    private let statusLock = NSLock()
    private var statusValue = Status()
    /// Called on the Raft queue after committed entries are applied (wakes metadata fetches).
    var onApplied: @Sendable () -> Void = {}

    /// A voter that restarts from `storage`, applying into `store` and sending with `send`.
    init(id: String, voters: [VoterAddress], settings: ControllerSettings, storage: RaftLogStorage, store: ReplicatedMetadataStore,
         logger: Logger, send: @escaping @Sendable (RaftMessage) -> Void) throws {
        self.id = id
        self.voters = voters
        self.settings = settings
        self.storage = storage
        self.store = store
        self.send = send
        self.logger = logger
        let (persisted, snapshot) = try storage.load()
        if let snapshot { store.restore(snapshot) }
        let configuration = RaftConfiguration(id: id, voters: voters.map(\.id), electionTicks: settings.electionTicks,
                                              heartbeatTicks: settings.heartbeatTicks)
        raft = try RaftNode(configuration: configuration, persisted: persisted, random: SystemRandomNumberGenerator())
        // Entries committed before the restart are applied again, from the snapshot's state.
        queue.sync { process(raft.advance()) }
    }

    /// Starts the clock.
    func start() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let interval = DispatchTimeInterval.nanoseconds(Int(settings.tick.components.seconds * 1_000_000_000 + settings.tick.components.attoseconds / 1_000_000_000))
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(1))
        timer.setEventHandler { [self] in
            guard !failed else { return }
            process(raft.tick())
            expireProposals()
        }
        self.timer = timer
        timer.resume()
    }

    /// Stops the clock; proposals still waiting fail.
    func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
            failed = true  // later proposals are answered at once
            failAll(ProtocolFailure(.timeout, "node \(id) is shutting down; the write may or may not be applied"))
        }
    }

    /// What the rest of the node may read: leader, term, role, commit index.
    var status: Status { statusLock.withLock { statusValue } }

    /// The request endpoint of a voter.
    func endpoint(of voter: String) -> String? { voters.first { $0.id == voter }?.api }

    /// A message from another voter.
    func receive(_ message: RaftMessage) {
        queue.async { [self] in
            guard !failed, message.to == id else { return }
            process(raft.step(message))
        }
    }

    /// Proposes `data` as a new entry; `completion` runs once it is applied (with the state
    /// machine's verdict), or with why it will not be.
    func propose(_ data: [UInt8], completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        queue.async { [self] in
            guard !failed else {
                return completion(.failure(ProtocolFailure(.notController, "the controller on node \(id) stopped after a storage failure")))
            }
            do {
                let ready = try raft.propose(data)
                pending.removeValue(forKey: raft.log.lastIndex)?.completion(.failure(ProtocolFailure(.notController,
                    "the controller leader changed before the write committed; it was not applied — retry")))
                pending[raft.log.lastIndex] = Pending(term: raft.term, deadline: .now + settings.commitTimeout, completion: completion)
                process(ready)
            } catch {
                completion(.failure(ProtocolFailure(.notController, "node \(id) is not the controller leader (\(raft.leader.map { "the leader is \($0)" } ?? "no leader is known yet: an election is under way")); nothing was applied")))
            }
        }
    }

    /// Carries out one directive: persist, send, apply.
    private func process(_ ready: RaftReady) {
        do {
            try storage.persist(ready)
        } catch {
            failed = true
            timer?.cancel()
            logger.critical("controller storage failed; this voter stops", metadata: ["ganglion.error": "\(error)"])
            failAll(ProtocolFailure(.timeout, "the controller on node \(id) stopped after a storage failure (\(error)); the write may or may not be applied by the other voters"))
            publishStatus()  // no longer a leader, nor anyone's follower
            return
        }
        for message in ready.messages { send(message) }
        if let snapshot = ready.snapshot {
            do {
                store.restore(try JSONDecoder().decode(MetadataSnapshot.self, from: Data(snapshot.data)))
            } catch {
                logger.error("a snapshot from the leader does not decode", metadata: ["ganglion.error": "\(error)"])
            }
        }
        for entry in ready.committedEntries { apply(entry) }
        if !ready.committedEntries.isEmpty || ready.snapshot != nil { onApplied() }
        if raft.role == .leader, !ready.messages.isEmpty {
            let last = raft.log.lastIndex
            for (follower, match) in raft.followerMatch {
                Gauge(label: "ganglion_controller_follower_lag_entries", dimensions: [("follower", follower)]).record(last - match)
            }
        }
        publishStatus()
        compactIfDue()
    }

    /// Applies one committed entry and answers its proposal, if it was ours.
    private func apply(_ entry: RaftEntry) {
        let outcome: Result<Void, any Error>
        do {
            outcome = store.apply(try MetadataEntry(entry), index: entry.index)
        } catch {
            logger.error("a committed metadata entry does not decode; skipped", metadata: ["ganglion.index": "\(entry.index)", "ganglion.error": "\(error)"])
            outcome = .failure(error)
        }
        guard let waiting = pending.removeValue(forKey: entry.index) else { return }
        if waiting.term == entry.term {
            let elapsed = (ContinuousClock.now - waiting.proposed).components
            Timer(label: "ganglion_controller_commit_seconds").recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
            waiting.completion(outcome)
        } else {
            store.resetDecisions()
            waiting.completion(.failure(ProtocolFailure(.notController, "the controller leader changed before the write committed; it was not applied — retry")))
        }
    }

    /// Fails proposals whose time is up.
    private func expireProposals() {
        let now = ContinuousClock.now
        for (index, waiting) in pending where waiting.deadline <= now {
            pending[index] = nil
            store.resetDecisions()
            waiting.completion(.failure(ProtocolFailure(.timeout, "no controller quorum committed the write within \(settings.commitTimeout); it may or may not be applied later")))
        }
    }

    private func failAll(_ failure: ProtocolFailure) {
        let waiting = pending.values
        pending = [:]
        for item in waiting { item.completion(.failure(failure)) }
    }

    /// Records role, leader and term for readers; a change of leader resets decisions.
    private func publishStatus() {
        if raft.role != .leader {
            termStartIndex = nil
        } else if termStartIndex == nil {
            termStartIndex = raft.log.entries.first { $0.term == raft.term }?.index ?? raft.log.lastIndex
        }
        let canDecide = raft.role == .leader && !failed && termStartIndex.map { raft.log.applied >= $0 } == true
        let now = Status(leader: failed ? nil : raft.leader, term: raft.term, role: failed ? .follower : raft.role, commitIndex: raft.log.committed,
                         canDecide: canDecide)
        let before = statusLock.withLock {
            let before = statusValue
            statusValue = now
            return before
        }
        if before.role != now.role || before.leader != now.leader || before.term != now.term || before.canDecide != now.canDecide {
            store.leadershipChanged(isLeader: now.role == .leader)
            Gauge(label: "ganglion_controller_term").record(now.term)
            Gauge(label: "ganglion_controller_is_leader").record(now.role == .leader ? 1 : 0)
            if before.leader != now.leader {
                Counter(label: "ganglion_controller_leader_changes_total").increment()
                logger.info("controller leader", metadata: ["ganglion.leader": "\(now.leader ?? "none")", "ganglion.term": "\(now.term)"])
            }
        }
    }

    /// Writes a snapshot every ``ControllerSettings/snapshotEvery`` applied entries and drops the log below it.
    private func compactIfDue() {
        let applied = raft.log.applied
        guard applied - raft.log.snapshotIndex >= Int64(settings.snapshotEvery), let term = raft.log.term(at: applied) else { return }
        var snapshot = store.snapshot(offset: applied)
        snapshot.term = term
        do {
            let data = Array(try JSONEncoder().encode(snapshot))
            try storage.compact(snapshot)
            try raft.compact(through: applied, data: data)
        } catch {
            logger.warning("metadata snapshot failed; the log is kept", metadata: ["ganglion.error": "\(error)"])
        }
    }
}
