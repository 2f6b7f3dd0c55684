import ClusterCore
import Foundation
import SchemaRegistry

/// The metadata of a node in a cluster of several: the state applied from the committed
/// metadata log, which reaches it through Raft (a controller voter, ``ControllerQuorum``) or by
/// following the voters (an observer, ``MetadataFollower``).
///
/// Only the controller leader decides new records: against the applied state plus its own
/// proposals on their way (`decided`), exactly as a cluster of one decides against what is
/// durable or about to be. Every committed record is validated again as it is applied, in log
/// order, on every node alike, so a decision taken on a stale view (around a change of leader)
/// is refused then — and that refusal is what its proposer hears — instead of half-applied.
final class ReplicatedMetadataStore: MetadataLog, @unchecked Sendable {
    // `current`, `registry`, `decided` and `appliedIndex` are guarded by `lock`; `registryLock`
    // serialises registry decisions (each waits for its commit, as on a single node).
    private let lock = NSLock()
    private let registryLock = NSLock()
    private var current = MetadataState()
    private var registry = RegistryState()
    private var decided = MetadataState()
    private var appliedIndex: Int64 = 0
    /// Proposes an entry to the controller quorum (nil on an observer, or before the quorum runs).
    private let proposer = ProposerSlot()

    /// An empty store; ``ControllerQuorum`` or ``MetadataFollower`` fills it.
    init() {}

    /// Lets the controller quorum take this node's proposals (voters only).
    func attach(_ quorum: ControllerQuorum) { proposer.set(quorum) }

    /// The metadata now (committed and applied).
    var state: MetadataState { lock.withLock { current } }
    /// The registry's state now.
    var registryState: RegistryState { lock.withLock { registry } }
    /// The Raft index of the last applied entry (the metadata log's offset below which everything is applied).
    var applied: Int64 { lock.withLock { appliedIndex } }

    func commit(deciding decide: @escaping (MetadataState) throws -> MetadataRecord,
                completion: @escaping @Sendable (Result<MetadataRecord, any Error>) -> Void) {
        guard let quorum = proposer.get(), quorum.status.canDecide else {
            return DispatchQueue.global().async { completion(.failure(self.notController())) }
        }
        do {
            // Proposed under the lock, so proposals reach the Raft queue in the order they were decided.
            try lock.withLock {
                let record = try decide(decided)
                try decided.validate(record)
                let data = try MetadataEntry.metadata(record).raftData()
                decided.apply(record)
                quorum.propose(data) { result in completion(result.map { record }) }
            }
        } catch {
            return DispatchQueue.global().async { completion(.failure(error)) }
        }
    }

    func updateRegistry<Answer>(_ decide: (RegistryState) throws -> (RegistryRecord?, Answer)) throws -> Answer {
        try registryLock.withLock {
            let (record, answer) = try decide(registryState)
            guard let record else { return answer }
            guard let quorum = proposer.get(), quorum.status.canDecide else { throw notController() }
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var outcome: Result<Void, any Error> = .success(())
            quorum.propose(try MetadataEntry.registry(record).raftData()) { result in
                outcome = result
                done.signal()
            }
            done.wait()
            try outcome.get()
            return answer
        }
    }

    /// Applies a committed entry (in log order); the result is the state machine's verdict on it.
    func apply(_ entry: MetadataEntry, index: Int64) -> Result<Void, any Error> {
        lock.withLock {
            defer { appliedIndex = index }
            switch entry {
            case .noop:
                return .success(())
            case .registry(let record):
                registry.apply(record)
                if proposer.get()?.status.role != .leader { decided = current }
                return .success(())
            case .metadata(let record):
                let verdict: Result<Void, any Error>
                do {
                    try current.validate(record)
                    verdict = .success(())
                } catch {
                    verdict = .failure(error)
                    decided = current  // a decision taken on a view that turned out wrong: decide afresh
                }
                current.apply(record)
                if proposer.get()?.status.role != .leader { decided = current }
                return verdict
            }
        }
    }

    /// Replaces the state with a snapshot's (a voter restarting from one, or far behind its leader).
    func restore(_ snapshot: MetadataSnapshot) {
        lock.withLock {
            current = snapshot.metadata
            registry = snapshot.registry
            decided = current
            appliedIndex = snapshot.offset
        }
    }

    /// The applied state as a snapshot through Raft index `offset`.
    func snapshot(offset: Int64) -> MetadataSnapshot {
        lock.withLock { MetadataSnapshot(offset: offset, metadata: current, registry: registry) }
    }

    /// Decisions start again from the applied state (a new leader, or a proposal that failed).
    func resetDecisions() { lock.withLock { decided = current } }

    /// Called when this node becomes or stops being the leader.
    func leadershipChanged(isLeader: Bool) { resetDecisions() }

    private func notController() -> ProtocolFailure {
        let leader = proposer.get()?.status.leader
        let status = proposer.get()?.status
        if status?.role == .leader {
            return ProtocolFailure(.notController, "this node was just elected controller leader and has not yet applied its term's first entry; nothing was applied — retry")
        }
        return ProtocolFailure(.notController, "node is not the controller leader" + (leader.map { " (the leader is \($0))" } ?? " and no leader is known (an election is under way)") + "; nothing was applied")
    }

    func close() throws {}
}

/// Holds the quorum once it exists (it is made after the store it applies into).
private final class ProposerSlot: @unchecked Sendable {
    private let lock = NSLock()
    private weak var quorum: ControllerQuorum?
    func set(_ quorum: ControllerQuorum) { lock.withLock { self.quorum = quorum } }
    func get() -> ControllerQuorum? { lock.withLock { quorum } }
}
