import ClusterCore

/// A deterministic simulation of a Raft cluster: N voters with virtual time, a seeded network
/// (drops, delays, duplicates, reordering, partitions that come and go), crashes that lose
/// what was not yet durable, restarts from the persisted state, pauses, log compaction, and
/// clients proposing to whoever leads. Safety is checked after every step; once the faults stop
/// and everything heals, a final proposal must commit on every node. The same seed replays the
/// same run.
public struct RaftSimulation {
    /// The failure of a run: where and what.
    public struct Failure: Error, CustomStringConvertible {
        /// The seed that replays it.
        public var seed: UInt64
        /// The virtual time of the failure (milliseconds).
        public var time: Int64
        /// What went wrong.
        public var message: String
        /// `seed …, t=… ms: …`.
        public var description: String { "seed \(seed), t=\(time) ms: \(message)" }
    }

    /// The seed of this run.
    public let seed: UInt64
    /// The voter ids.
    public let voters: [String]
    /// How long faults are injected (virtual milliseconds).
    public var chaosMilliseconds: Int64 = 4_000
    /// How long the healed cluster has to commit a final proposal everywhere.
    public var settleMilliseconds: Int64 = 4_000
    /// How often every node ticks (virtual milliseconds).
    public var tickMilliseconds: Int64 = 10
    /// Proposals that committed everywhere by the end (a measure of how much the run exercised).
    public private(set) var committedCount = 0

    private var random: SeededGenerator
    private var network = SimulatedNetwork<RaftMessage>()
    private var nodes: [String: SimulatedRaftNode] = [:]
    private var invariants = RaftInvariants()
    private var now: Int64 = 0
    private var nextValue: UInt64 = 1

    /// A run of `voterCount` voters driven by `seed`.
    public init(seed: UInt64, voterCount: Int) {
        self.seed = seed
        self.voters = (1...voterCount).map { "n\($0)" }
        random = SeededGenerator(seed: seed)
    }

    /// Runs the simulation; throws the first violated property, or a cluster that did not recover.
    public mutating func run() throws(Failure) {
        for id in voters {
            nodes[id] = SimulatedRaftNode(phase: Int64(random.next() % UInt64(tickMilliseconds)))
            start(id)
        }
        let marker: [UInt8] = Array("final".utf8)
        while now < chaosMilliseconds + settleMilliseconds {
            now += 1
            if now < chaosMilliseconds { injectFaults() } else if now == chaosMilliseconds { healEverything() }
            for id in voters { try wakeIfDue(id) }
            for message in network.due(now: now, paused: pausedNodes, random: &random) {
                guard nodes[message.to]?.raft != nil else { continue }
                let ready = nodes[message.to]!.raft!.step(message)
                try produced(message.to, ready)
            }
            for id in voters where isRunning(id) && now % tickMilliseconds == nodes[id]!.phase {
                let ready = nodes[id]!.raft!.tick()
                try produced(id, ready)
            }
            for id in voters where isRunning(id) { try makeDurable(id) }
            if now < chaosMilliseconds {
                if random.next() % 30 == 0 { try propose(Self.encode(nextValue)); nextValue += 1 }
                if random.next() % 100 == 0 { compact(voters[Int(random.next() % UInt64(voters.count))]) }
            } else {
                if voters.allSatisfy({ nodes[$0]!.applied.contains { $0.data == marker } }) {
                    committedCount = invariants.committed.count { $0.entry.kind == .command }
                    return
                }
                if now % 200 == 0 { try propose(marker) }
            }
            for id in voters {
                guard let raft = nodes[id]!.raft else { continue }
                if let violation = invariants.check(id, raft) { throw fail(violation) }
            }
        }
        let leaders = voters.filter { nodes[$0]!.raft?.role == .leader }
        throw fail("no recovery: after healing, the final proposal did not commit everywhere within \(settleMilliseconds) ms (leaders: \(leaders), terms: \(voters.map { nodes[$0]!.raft?.term ?? -1 }))")
    }

    private var pausedNodes: Set<String> { Set(voters.filter { nodes[$0]!.paused }) }

    private func isRunning(_ id: String) -> Bool { nodes[id]!.raft != nil && !nodes[id]!.paused }

    private func fail(_ message: String) -> Failure { Failure(seed: seed, time: now, message: message) }

    private static func encode(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    /// Starts (or restarts) a node from its disk.
    private mutating func start(_ id: String) {
        let configuration = RaftConfiguration(id: id, voters: voters, electionTicks: 10, heartbeatTicks: 1)
        var node = nodes[id]!
        node.raft = try! RaftNode(configuration: configuration, persisted: node.disk, random: SeededGenerator(seed: random.next()))
        node.applied = SnapshotCodec.decode(node.disk.snapshot?.data ?? [])
        node.unsynced = []
        node.paused = false
        nodes[id] = node
        invariants.restarted(id, commit: node.disk.hardState.commit)
    }

    /// Crashes, pauses, partitions and heals at random.
    private mutating func injectFaults() {
        let id = voters[Int(random.next() % UInt64(voters.count))]
        if random.next() % 1500 == 0 && isRunning(id) {
            nodes[id]!.raft = nil
            nodes[id]!.unsynced = []  // what was not yet durable is lost
            nodes[id]!.downUntil = now + 50 + Int64(random.next() % 1000)
        }
        if random.next() % 1500 == 0 && isRunning(id) {
            nodes[id]!.paused = true
            nodes[id]!.downUntil = now + 50 + Int64(random.next() % 1000)
        }
        if random.next() % 800 == 0 {
            network.partition(Dictionary(uniqueKeysWithValues: voters.map { ($0, Int(random.next() % 2)) }))
        }
        if random.next() % 800 == 0 { network.heal() }
    }

    /// Ends the faults: links heal, the network stops losing messages, every node comes back.
    private mutating func healEverything() {
        network.heal()
        network.dropPerMille = 0
        network.duplicatePerMille = 0
        for id in voters { nodes[id]!.downUntil = now }
    }

    /// Restarts a crashed node or resumes a paused one whose time has come.
    private mutating func wakeIfDue(_ id: String) throws(Failure) {
        guard now >= nodes[id]!.downUntil else { return }
        if nodes[id]!.raft == nil { start(id) }
        nodes[id]!.paused = false
    }

    /// Checks a directive as it is produced and queues it for its fsync.
    private mutating func produced(_ id: String, _ ready: RaftReady) throws(Failure) {
        let raft = nodes[id]!.raft!
        if let violation = invariants.checkAppended(id, raft, ready.entries) { throw fail(violation) }
        guard !ready.isEmpty else { return }
        nodes[id]!.unsynced.append((now + Int64(random.next() % 4), raft.term, ready))
    }

    /// Persists the directives whose fsync is done, in order; then sends and applies what they say.
    private mutating func makeDurable(_ id: String) throws(Failure) {
        while let (durableAt, term, ready) = nodes[id]!.unsynced.first, durableAt <= now {
            nodes[id]!.unsynced.removeFirst()
            if let hardState = ready.hardState, hardState.commit < nodes[id]!.disk.hardState.commit {
                throw fail("\(id)'s persisted commit index went back from \(nodes[id]!.disk.hardState.commit) to \(hardState.commit)")
            }
            nodes[id]!.persist(ready)
            if ready.snapshot != nil, let violation = invariants.checkCommitted(id, nodes[id]!.applied, term: term) {
                throw fail("snapshot: \(violation)")
            }
            for message in ready.messages { network.send(message, now: now, random: &random) }
            for entry in ready.committedEntries {
                guard entry.index == Int64(nodes[id]!.applied.count + 1) else {
                    throw fail("\(id) was given entry \(entry.index) to apply after \(nodes[id]!.applied.count)")
                }
                nodes[id]!.applied.append(entry)
            }
            if let violation = invariants.checkCommitted(id, ready.committedEntries, term: term) { throw fail(violation) }
        }
    }

    /// A client proposes `data` to every running node that believes it leads.
    private mutating func propose(_ data: [UInt8]) throws(Failure) {
        for id in voters where isRunning(id) && nodes[id]!.raft!.role == .leader {
            guard let ready = try? nodes[id]!.raft!.propose(data) else { continue }
            try produced(id, ready)
        }
    }

    /// The application snapshots what it applied; the core and the disk drop the log below it.
    private mutating func compact(_ id: String) {
        guard isRunning(id) else { return }
        let node = nodes[id]!
        let through = Int64(node.applied.count)
        guard through - node.raft!.log.snapshotIndex >= 10, through > (node.disk.snapshot?.index ?? 0) else { return }
        let data = SnapshotCodec.encode(node.applied[..<Int(through)])
        guard (try? nodes[id]!.raft!.compact(through: through, data: data)) != nil,
              let snapshot = nodes[id]!.raft!.log.snapshot else { return }
        nodes[id]!.disk.snapshot = snapshot
        nodes[id]!.disk.entries.removeAll { $0.index <= through }
    }
}
