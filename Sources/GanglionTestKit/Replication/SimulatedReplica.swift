import ClusterCore

/// One record of the simulated partition: the leader epoch it was appended in and its value.
struct SimulatedRecord: Hashable, CustomStringConvertible {
    var epoch: Int32
    var value: Int
    var description: String { "\(value)@e\(epoch)" }
}

/// A message of the replication simulation.
struct ReplicationMessage: SimulatedMessage {
    enum Kind {
        /// A follower fetches from `offset` (everything below it is durable in its log).
        case fetch(offset: Int64, leaderEpoch: Int32, lastEpoch: Int32?, fetchID: Int)
        /// The leader's records from `offset`, and its high watermark.
        case records(offset: Int64, [SimulatedRecord], highWatermark: Int64, leaderEpoch: Int32, fetchID: Int)
        /// The follower's log diverges: the leader's largest epoch at or below the follower's last
        /// is `epoch`, ending at `endOffset`. The follower keeps what lies below both that and its
        /// own end of `epoch` (Kafka's rule: otherwise it keeps records of a later epoch the
        /// leader never had, and asks again forever), then fetches again.
        case diverging(epoch: Int32, endOffset: Int64, leaderEpoch: Int32, fetchID: Int)
        /// A leader asks the controller to change the ISR.
        case alterISR(isr: [String], leaderEpoch: Int32, partitionEpoch: Int32)
        /// The controller's current partition state.
        case metadata(PartitionState)
        /// A node's heartbeat to the controller, with the incarnation of its process.
        case heartbeat(incarnation: Int)
        /// A client's `acks=all` write.
        case produce(value: Int)
    }

    var from: String
    var to: String
    var kind: Kind
}

/// A replica of the simulated partition: its log (with a durable prefix), its leader epochs,
/// what it knows of the partition's state, and — while it leads — its ``ReplicaTracker``.
struct SimulatedReplica {
    let id: String
    private(set) var log: [SimulatedRecord] = []
    private var durable = 0
    /// Leader epochs and the offset each began at (Kafka's leader-epoch cache).
    private var epochs: [(epoch: Int32, start: Int64)] = []
    private var known: PartitionState?
    private(set) var tracker: ReplicaTracker?
    private var pending: [(value: Int, offset: Int64)] = []
    private var acknowledged: [(value: Int, offset: Int64)] = []
    private var fetchSentAt: Int64 = -1_000
    /// The fetch whose answer is awaited: an answer to any other (late, or duplicated by the
    /// network) is ignored — applied twice, a "diverging" answer would cut records the follower
    /// has since fetched and reported, and the leader would count copies that are gone.
    private var fetchID = 0
    private var awaited: Int?
    private var alterSentAt: Int64 = -1_000
    private var heartbeatAt: Int64 = -1_000
    /// Raised at every restart: a new process.
    private var incarnation = 0
    /// Leader epochs this replica appended records in as leader since last asked (for the checker).
    var appendedAsLeader: Set<Int32> = []

    /// The fewest in-sync replicas an acknowledgement needs.
    let minInSync: Int

    init(id: String, minInSync: Int) {
        self.id = id
        self.minInSync = minInSync
    }

    /// The durable part of the log (what survives a crash).
    var durableLog: ArraySlice<SimulatedRecord> { log.prefix(durable) }
    /// The leader epoch this replica believes current (nil: it knows none).
    var leaderEpoch: Int32? { known?.leaderEpoch }

    /// What this replica holds and believes, for a failure's message.
    var summary: String {
        "\(id): log \(log.count) (durable \(durable)), epochs \(epochs.map { "e\($0.epoch)@\($0.start)" }), knows leader \(known?.leader ?? "-") e\(known?.leaderEpoch ?? -1) isr \(known?.isr ?? []) p\(known?.partitionEpoch ?? -1)"
            + (tracker.map { ", leads: isr \($0.isr) hw \($0.highWatermark) followers \($0.replicas.map { "\($0)=\($0 == id ? "-" : "\(self.tracker!.logEnd(of: $0) ?? -1)")" })" } ?? "")
    }

    /// Writes acknowledged since last asked: (value, offset).
    mutating func takeAcknowledged() -> [(Int, Int64)] {
        defer { acknowledged = [] }
        return acknowledged.map { ($0.value, $0.offset) }
    }

    /// fsync: everything appended is durable.
    mutating func flush() {
        durable = log.count
        if var tracker {
            tracker.leaderAppended(logEnd: Int64(durable))
            self.tracker = tracker
            settleAcknowledgements()
        }
    }

    /// Loses what was not durable, and everything in memory.
    mutating func crash() {
        truncate(to: Int64(durable))
        known = nil
        tracker = nil
        pending = []
    }

    /// Starts again from the durable log; learns the partition state from the controller.
    mutating func restart() {
        incarnation += 1
        fetchSentAt = -1_000
        heartbeatAt = -1_000
    }

    /// Heartbeats, fetches (as a follower) and ISR changes (as the leader) due now.
    mutating func tick(now: Int64) -> [ReplicationMessage] {
        var out: [ReplicationMessage] = []
        if now - heartbeatAt >= 20 {
            heartbeatAt = now
            out.append(message(to: ReplicationSimulation.controller, .heartbeat(incarnation: incarnation)))
        }
        guard let known else { return out }
        if var tracker {
            if now - alterSentAt >= 50, let isr = tracker.proposeISR(now: now) {
                self.tracker = tracker
                alterSentAt = now
                out.append(message(to: ReplicationSimulation.controller,
                                   .alterISR(isr: isr, leaderEpoch: known.leaderEpoch, partitionEpoch: known.partitionEpoch)))
            }
        } else if let leader = known.leader, leader != id, known.replicas.contains(id), now - fetchSentAt >= 30 {
            fetchSentAt = now
            flush()  // what a follower reports as fetched is durable (the fsync policy applies on followers)
            fetchID += 1
            awaited = fetchID
            out.append(message(to: leader, .fetch(offset: Int64(durable), leaderEpoch: known.leaderEpoch, lastEpoch: epochs.last?.epoch, fetchID: fetchID)))
        }
        return out
    }

    /// Handles one message.
    mutating func receive(_ message: ReplicationMessage, now: Int64, minInSync: Int) -> [ReplicationMessage] {
        switch message.kind {
        case .metadata(let state):
            learn(state, now: now)
            return []
        case .produce(let value):
            guard var tracker, let known, tracker.isr.count >= minInSync else { return [] }
            // Idempotence: a write already in the log (a duplicated or retried request) is not
            // appended again — its producer state lives in the log, so it survives a failover.
            guard !log.contains(where: { $0.value == value }) else { return [] }
            if epochs.last?.epoch != known.leaderEpoch { epochs.append((known.leaderEpoch, Int64(log.count))) }
            log.append(SimulatedRecord(epoch: known.leaderEpoch, value: value))
            appendedAsLeader.insert(known.leaderEpoch)
            pending.append((value, Int64(log.count - 1)))
            tracker.leaderAppended(logEnd: Int64(durable))
            self.tracker = tracker
            return []
        case .fetch(let offset, let leaderEpoch, let lastEpoch, let id):
            guard var tracker, let known, leaderEpoch == known.leaderEpoch else { return [] }
            if let lastEpoch, offset > 0 {
                let end = endOffset(forEpoch: lastEpoch)
                if end.epoch != lastEpoch || end.offset < offset {
                    return [self.message(to: message.from, .diverging(epoch: end.epoch, endOffset: end.offset, leaderEpoch: known.leaderEpoch, fetchID: id))]
                }
            }
            guard offset <= Int64(durable) else { return [] }
            tracker.followerFetched(message.from, offset: offset, now: now)
            self.tracker = tracker
            settleAcknowledgements()
            // Only durable records are served: a crash of the leader never takes back what a follower holds.
            let slice = Array(log[Int(offset)..<min(durable, Int(offset) + 8)].prefix(8))
            return [self.message(to: message.from, .records(offset: offset, slice, highWatermark: tracker.highWatermark, leaderEpoch: known.leaderEpoch, fetchID: id))]
        case .records(let offset, let records, _, let leaderEpoch, let id):
            guard id == awaited else { return [] }
            awaited = nil
            guard tracker == nil, let known, leaderEpoch == known.leaderEpoch, message.from == known.leader,
                  offset == Int64(log.count), !records.isEmpty else { return [] }
            for record in records {
                if epochs.last?.epoch != record.epoch { epochs.append((record.epoch, Int64(log.count))) }
                log.append(record)
            }
            fetchSentAt = -1_000  // fetch on at once
            return []
        case .diverging(let epoch, let endOffset, let leaderEpoch, let id):
            guard id == awaited else { return [] }
            awaited = nil
            guard tracker == nil, let known, leaderEpoch == known.leaderEpoch, message.from == known.leader else { return [] }
            let own = self.endOffset(forEpoch: epoch)
            truncate(to: min(endOffset, own.offset, Int64(log.count)))
            fetchSentAt = -1_000
            return []
        case .alterISR, .heartbeat:
            return []
        }
    }

    /// A newer partition state from the controller.
    private mutating func learn(_ state: PartitionState, now: Int64) {
        if let known, state.partitionEpoch <= known.partitionEpoch, state.leaderEpoch <= known.leaderEpoch { return }
        let previous = known
        known = state
        guard state.replicas.contains(id) else {
            // Not (or no longer) a replica: its copy is deleted, as a node does when a replica moves off it.
            log = []
            durable = 0
            epochs = []
            tracker = nil
            pending = []
            return
        }
        guard state.leader == id else {
            tracker = nil
            pending = []
            fetchSentAt = -1_000
            return
        }
        if var tracker, previous?.leaderEpoch == state.leaderEpoch {
            // The same term: only the ISR changed.
            tracker.isrChanged(to: state.isr)
            self.tracker = tracker
            settleAcknowledgements()
            return
        }
        // A new term of leadership: the epoch starts at the log end; nothing is truncated.
        if epochs.last?.epoch != state.leaderEpoch { epochs.append((state.leaderEpoch, Int64(log.count))) }
        tracker = ReplicaTracker(leader: id, replicas: state.replicas, isr: state.isr, logEnd: Int64(durable), highWatermark: 0,
                                 lagBound: 150, now: now)
        pending = []
    }

    /// Acknowledges the writes now below the high watermark — unless the ISR shrank below the
    /// minimum meanwhile: then they are refused (Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND), as
    /// fewer copies than promised hold them.
    private mutating func settleAcknowledgements() {
        guard let tracker else { return }
        guard tracker.isr.count >= minInSync else {
            pending.removeAll { $0.offset < tracker.highWatermark }
            return
        }
        let done = pending.filter { $0.offset < tracker.highWatermark }
        pending.removeAll { $0.offset < tracker.highWatermark }
        acknowledged += done
    }

    /// The end offset of the largest epoch ≤ `epoch` this log holds, and that epoch.
    private func endOffset(forEpoch epoch: Int32) -> (epoch: Int32, offset: Int64) {
        guard let index = epochs.lastIndex(where: { $0.epoch <= epoch }) else { return (-1, 0) }
        let end = index + 1 < epochs.count ? epochs[index + 1].start : Int64(log.count)
        return (epochs[index].epoch, end)
    }

    private mutating func truncate(to end: Int64) {
        // Epochs that begin at or past the cut go even when no record does (an epoch this
        // replica led without appending): otherwise it would name that epoch forever and the
        // leader would answer "diverging" forever.
        epochs.removeAll { $0.start >= end }
        guard end < Int64(log.count) else { return }
        log.removeLast(log.count - Int(end))
        durable = min(durable, log.count)
        pending.removeAll { $0.offset >= end }
    }

    private func message(to: String, _ kind: ReplicationMessage.Kind) -> ReplicationMessage {
        ReplicationMessage(from: id, to: to, kind: kind)
    }
}

/// The simulated controller: the partition's state, node sessions, leader elections and ISR
/// changes — reliable and immediate here (the Raft simulation covers its replication).
struct SimulatedController {
    private(set) var state: PartitionState
    private var lastHeard: [String: Int64] = [:]
    private var incarnations: [String: Int] = [:]
    private var fenced: Set<String> = []
    private var broadcastAt: Int64 = -1_000
    private var balancedAt: Int64 = 0
    private let nodes: [String]
    let sessionTimeout: Int64 = 200
    private(set) var movesStarted = 0
    private(set) var movesFinished = 0
    /// Changes of the state that ``PartitionState/checkSuccessor(_:)`` refuses (a failure).
    private(set) var refused: [String] = []

    /// Records `next` as the state, checked as the metadata checks every change.
    private mutating func set(_ next: PartitionState) {
        do {
            try state.checkSuccessor(next)
        } catch {
            refused.append("\(state) → \(next): \(error)")
        }
        state = next
    }

    init(nodes: [String], replicaCount: Int) {
        self.nodes = nodes
        let replicas = Array(nodes.prefix(replicaCount))
        state = PartitionState(leader: nodes[0], replicas: replicas, isr: replicas, leaderEpoch: 1, partitionEpoch: 1)
    }

    /// Starts moving a random replica to a random alive node that holds none, as
    /// ``ReplicaBalance`` does: only while the partition has a leader and every replica in sync.
    mutating func startMove(random: inout SeededGenerator) -> Bool {
        let alive = Set(nodes).subtracting(fenced)
        let spares = nodes.filter { alive.contains($0) && !state.replicas.contains($0) }
        guard state.removing == nil, state.leader != nil, state.isr.count == state.replicas.count, !spares.isEmpty else { return false }
        let from = state.replicas[Int(random.next() % UInt64(state.replicas.count))]
        let to = spares[Int(random.next() % UInt64(spares.count))]
        set(ReplicaBalance.start(state, moving: from, to: to))
        movesStarted += 1
        return true
    }

    /// Fences nodes whose sessions expired; sends the state to every node now and then.
    mutating func tick(now: Int64) -> [ReplicationMessage] {
        for node in nodes where !fenced.contains(node) && now - (lastHeard[node] ?? 0) > sessionTimeout {
            fenced.insert(node)
            apply(PartitionLeadership.afterNodeLeft(node, partitions: ["t": [state]], alive: Set(nodes).subtracting(fenced)))
        }
        if now - balancedAt >= 50 {
            // The move in flight: finished once the new replica is in sync, undone if its node is gone.
            balancedAt = now
            if let next = ReplicaBalance.advance(state, alive: Set(nodes).subtracting(fenced)) {
                if next.removing == nil && next.replicas.count == state.replicas.count - 1 && next.replicas.contains(state.adding ?? "") { movesFinished += 1 }
                set(next)
            }
        }
        guard now - broadcastAt >= 25 else { return [] }
        broadcastAt = now
        return nodes.map { ReplicationMessage(from: ReplicationSimulation.controller, to: $0, kind: .metadata(state)) }
    }

    /// A heartbeat or an ISR change.
    mutating func receive(_ message: ReplicationMessage, now: Int64) -> [ReplicationMessage] {
        switch message.kind {
        case .heartbeat(let incarnation):
            lastHeard[message.from] = now
            if let known = incarnations[message.from], known != incarnation, !fenced.contains(message.from) {
                // A restarted process lost what it had not fsynced: it leaves and returns, so
                // every partition it led gets a new leader epoch.
                apply(PartitionLeadership.afterNodeLeft(message.from, partitions: ["t": [state]], alive: Set(nodes).subtracting(fenced).subtracting([message.from])))
                fenced.insert(message.from)
            }
            incarnations[message.from] = incarnation
            if fenced.remove(message.from) != nil {
                apply(PartitionLeadership.afterNodeReturned(message.from, partitions: ["t": [state]]))
            }
            return []
        case .alterISR(let isr, let leaderEpoch, let partitionEpoch):
            if let next = try? PartitionLeadership.alterISR(state, from: message.from, leaderEpoch: leaderEpoch,
                                                            partitionEpoch: partitionEpoch, isr: isr) {
                set(next)
            }
            return [ReplicationMessage(from: ReplicationSimulation.controller, to: message.from, kind: .metadata(state))]
        default:
            return []
        }
    }

    private mutating func apply(_ changes: [PartitionChange]) {
        for change in changes { set(change.state) }
    }
}
