import ClusterCore

/// A seeded simulation of one replicated partition on N nodes, in virtual time: followers fetch
/// from the leader, the leader tracks them with ``ReplicaTracker`` and acknowledges `acks=all`
/// writes below its high watermark, a controller (reliable here: Raft is simulated on its own)
/// fences silent nodes and elects leaders with ``PartitionLeadership``, and the network drops,
/// delays, duplicates and reorders messages, partitions the nodes (controller included), pauses
/// and crashes them — a crash loses what was not yet fsynced.
///
/// Checked after every step: no two nodes append as leader in one leader epoch; what any leader
/// ever counted as committed stays the committed prefix (nothing acknowledged is lost or
/// reordered). At the end, after healing: every acknowledged write is in the leader's log at its
/// acknowledged offset, nothing twice, every in-sync replica agrees with the leader below the
/// high watermark, and a new write is acknowledged.
public struct ReplicationSimulation {
    /// Why a run failed, with its seed.
    public struct Failure: Error, CustomStringConvertible {
        /// The seed that replays it.
        public let seed: UInt64
        /// The virtual time it happened at.
        public let time: Int64
        /// What went wrong (Jepsen's names: lost, duplicated, reordered, stale).
        public let message: String
        /// `seed N at T ms: message`.
        public var description: String {
            "replication simulation seed \(seed) at \(time) ms: \(message) (replay with GANGLION_REPLICATION_SEED=\(seed))"
        }
    }

    /// The run's seed.
    public let seed: UInt64
    /// The replicas.
    public let nodes: [String]
    /// The fewest in-sync replicas for an `acks=all` write.
    public var minInSync: Int
    /// Virtual milliseconds of faults, then of calm.
    public var chaosMilliseconds: Int64 = 3_000
    public var settleMilliseconds: Int64 = 3_000
    /// Writes acknowledged in the run.
    public private(set) var acknowledged = 0
    /// Replica moves started and finished in the run.
    public var movesStarted: Int { control.movesStarted }
    public var movesFinished: Int { control.movesFinished }
    /// How many of `nodes` hold a replica at the start (the rest are spares).
    public let replicaCount: Int

    static let controller = "controller"
    private var random: SeededGenerator
    private var network = SimulatedNetwork<ReplicationMessage>()
    private var replicas: [String: SimulatedReplica] = [:]
    private var control: SimulatedController
    private var now: Int64 = 0
    private var paused: Set<String> = []
    private var crashedUntil: [String: Int64] = [:]
    private var epochLeaders: [Int32: String] = [:]
    private var committed: [SimulatedRecord] = []
    private var acked: [Int: Int64] = [:]
    private var inFlight: [Int: Int64] = [:]
    private var nextValue = 1
    /// The last events, for a failure's message.
    private var trace: [String] = []
    private var lastState: PartitionState?
    private var lastHighWatermark: [String: Int64] = [:]

    private mutating func note(_ event: String) {
        trace.append("\(now) ms: \(event)")
        if trace.count > 60 { trace.removeFirst(trace.count - 60) }
    }

    /// A run of `nodeCount` replicas from `seed`, and `spares` nodes replicas may move to.
    public init(seed: UInt64, nodeCount: Int, minInSync: Int = 2, spares: Int = 0) {
        self.seed = seed
        self.minInSync = minInSync
        replicaCount = nodeCount
        random = SeededGenerator(seed: seed)
        nodes = (1...(nodeCount + spares)).map { "r\($0)" }
        control = SimulatedController(nodes: nodes, replicaCount: nodeCount)
        for node in nodes { replicas[node] = SimulatedReplica(id: node, minInSync: minInSync) }
    }

    /// Runs the simulation; throws the first violation.
    public mutating func run() throws(Failure) {
        while now < chaosMilliseconds {
            injectFaults()
            try step()
        }
        heal()
        let end = now + settleMilliseconds
        while now < end { try step() }
        try finalCheck()
    }

    // MARK: One millisecond

    private mutating func step() throws(Failure) {
        now += 1
        for (node, until) in crashedUntil where until <= now {
            crashedUntil[node] = nil
            replicas[node]!.restart()
        }
        for message in network.due(now: now, paused: paused, random: &random) {
            if message.to == Self.controller {
                for reply in control.receive(message, now: now) { network.send(reply, now: now, random: &random) }
            } else if message.to == "client" {
                receiveAtClient(message)
            } else if crashedUntil[message.to] == nil {
                let replies = replicas[message.to]!.receive(message, now: now, minInSync: minInSync)
                try observe(message.to)
                for reply in replies { network.send(reply, now: now, random: &random) }
            }
        }
        if !paused.contains(Self.controller) {
            for message in control.tick(now: now) { network.send(message, now: now, random: &random) }
        }
        if let refused = control.refused.first { throw fail("the controller made a change the metadata refuses: \(refused)") }
        if control.state != lastState {
            note("controller: leader \(control.state.leader ?? "-") e\(control.state.leaderEpoch) replicas \(control.state.replicas) isr \(control.state.isr) p\(control.state.partitionEpoch)"
                 + (control.state.removing.map { " (moving \($0) → \(control.state.adding ?? "-"))" } ?? ""))
            lastState = control.state
        }
        for node in nodes where !paused.contains(node) && crashedUntil[node] == nil {
            if random.next() % 12 == 0 { replicas[node]!.flush() }  // group commit: an fsync every ~12 ms
            for message in replicas[node]!.tick(now: now) {
                if case .alterISR(let isr, let leaderEpoch, let partitionEpoch) = message.kind {
                    note("\(node) asks ISR \(isr) at e\(leaderEpoch) p\(partitionEpoch): \(replicas[node]!.summary)")
                }
                network.send(message, now: now, random: &random)
            }
            try observe(node)
        }
        produce()
    }

    /// Records what a node did as leader and checks the committed prefix against it.
    private mutating func observe(_ node: String) throws(Failure) {
        let replica = replicas[node]!
        for epoch in replica.appendedAsLeader {
            if let other = epochLeaders[epoch], other != node {
                throw fail("two leaders in leader epoch \(epoch): \(other) and \(node) both appended")
            }
            epochLeaders[epoch] = node
        }
        replicas[node]!.appendedAsLeader = []
        guard let tracker = replica.tracker else { return }
        if lastHighWatermark[node] != tracker.highWatermark {
            note("\(node) leads, hw \(tracker.highWatermark), isr \(tracker.isr) pending \(tracker.pendingISR ?? []), log \(replica.log.suffix(3))")
            lastHighWatermark[node] = tracker.highWatermark
        }
        let prefix = Array(replica.log.prefix(Int(tracker.highWatermark)))
        let overlap = min(prefix.count, committed.count)
        if prefix[..<overlap] != committed[..<overlap] {
            let index = (0..<overlap).first { prefix[$0] != committed[$0] }!
            throw fail("lost or reordered: committed offset \(index) was \(committed[index]), leader \(node) now has \(prefix[index]) below its high watermark")
        }
        if prefix.count > committed.count { committed = prefix }
        // Every replica the controller records in sync for this leader's epoch — so may elect —
        // holds everything below this leader's high watermark, durably.
        if control.state.leader == node, control.state.leaderEpoch == replica.leaderEpoch {
            for member in control.state.isr where member != node && crashedUntil[member] == nil {
                let copy = replicas[member]!.durableLog
                guard copy.count >= prefix.count, Array(copy.prefix(prefix.count)) == prefix else {
                    throw fail("stale: \(member) is in the controller's ISR but lacks records below \(node)'s high watermark \(prefix.count) (holds \(copy.count) durably)")
                }
            }
        }
        for (value, offset) in replicas[node]!.takeAcknowledged() {
            guard acked[value] == nil else { throw fail("duplicated: value \(value) acknowledged twice") }
            acked[value] = offset
            inFlight[value] = nil
            acknowledged += 1
        }
    }

    // MARK: The client

    private mutating func produce() {
        inFlight = inFlight.filter { now - $0.value < 300 }  // given up: never retried, so never duplicated
        guard inFlight.count < 4, random.next() % 3 == 0, let leader = control.state.leader else { return }
        let value = nextValue
        nextValue += 1
        inFlight[value] = now
        network.send(ReplicationMessage(from: "client", to: leader, kind: .produce(value: value)), now: now, random: &random)
    }

    private mutating func receiveAtClient(_ message: ReplicationMessage) {
        // Acknowledgements are taken straight from the leader's state (`observe`): the reply
        // itself may be lost like any message, which a client sees as a timeout.
    }

    // MARK: Faults

    private mutating func injectFaults() {
        let everyone = nodes + [Self.controller]
        switch random.next() % 1_000 {
        case 0..<2:
            let node = nodes[Int(random.next() % UInt64(nodes.count))]
            guard crashedUntil[node] == nil else { break }
            replicas[node]!.crash()
            crashedUntil[node] = now + 10 + Int64(random.next() % 400)
            note("crash \(node) until \(crashedUntil[node]!): \(replicas[node]!.summary)")
        case 2..<4:
            let node = everyone[Int(random.next() % UInt64(everyone.count))]
            if paused.contains(node) { paused.remove(node) } else { paused.insert(node) }
            note("paused now: \(paused.sorted())")
        case 4..<6:
            let sides = Dictionary(uniqueKeysWithValues: everyone.map { ($0, Int(random.next() % 2)) })
            network.partition(sides)
            note("partition: \(sides.filter { $0.value == 0 }.keys.sorted()) | \(sides.filter { $0.value == 1 }.keys.sorted())")
        case 6..<9:
            network.heal()
            paused = []
            note("heal")
        case 9..<12 where nodes.count > replicaCount:
            if control.startMove(random: &random) { note("move starts: \(control.state.removing ?? "-") → \(control.state.adding ?? "-")") }
        default:
            break
        }
    }

    private mutating func heal() {
        network.heal()
        network.dropPerMille = 0
        network.duplicatePerMille = 0
        paused = []
    }

    // MARK: The end

    private mutating func finalCheck() throws(Failure) {
        guard let leaderID = control.state.leader, let leader = replicas[leaderID], let tracker = leader.tracker else {
            throw fail("no leader after healing: \(control.state)")
        }
        // Liveness: a write after healing is acknowledged.
        let before = acknowledged
        inFlight = [:]
        let deadline = now + 2_000
        while acknowledged == before, now < deadline {
            network.send(ReplicationMessage(from: "client", to: leaderID, kind: .produce(value: nextValue)), now: now, random: &random)
            nextValue += 1
            for _ in 0..<20 { try step() }
        }
        guard acknowledged > before else { throw fail("no write acknowledged within 2 s after healing; leader \(leaderID), ISR \(tracker.isr)") }
        guard control.state.removing == nil, control.state.replicas.count == replicaCount else {
            throw fail("a replica move never finished after healing: replicas \(control.state.replicas), leaving \(control.state.removing ?? "none")")
        }
        let log = replicas[leaderID]!.log
        let highWatermark = Int(replicas[leaderID]!.tracker!.highWatermark)
        var seen: Set<Int> = []
        for record in log.prefix(highWatermark) {
            guard seen.insert(record.value).inserted else { throw fail("duplicated: value \(record.value) stored twice below the high watermark") }
        }
        for (value, offset) in acked.sorted(by: { $0.value < $1.value }) {
            guard offset < Int64(highWatermark), Int(offset) < log.count, log[Int(offset)].value == value else {
                throw fail("lost: value \(value) acknowledged at offset \(offset), the leader \(leaderID) has \(Int(offset) < log.count ? "\(log[Int(offset)])" : "nothing") there (high watermark \(highWatermark))")
            }
        }
        for member in replicas[leaderID]!.tracker!.isr where member != leaderID {
            let copy = replicas[member]!.log
            let shared = min(copy.count, highWatermark)
            guard Array(copy.prefix(shared)) == Array(log.prefix(shared)) else {
                throw fail("stale: in-sync replica \(member) disagrees with leader \(leaderID) below the high watermark")
            }
        }
    }

    private func fail(_ message: String) -> Failure {
        Failure(seed: seed, time: now, message: message + "\n  controller: \(control.state)\n  " + nodes.map { replicas[$0]!.summary }.joined(separator: "\n  ")
                + "\n  last events:\n    " + trace.joined(separator: "\n    "))
    }
}
