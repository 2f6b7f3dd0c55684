import ClusterCore

/// A seeded simulation of one consumer group on a cluster (issue 18): a member on each of N nodes,
/// the group's coordinator on the leader of its `__consumer_offsets` partition, which moves when
/// that node crashes or hands leadership over; the new coordinator is rebuilt from what the
/// partition holds (acknowledged commits and epoch records), as `GroupService` does. Nodes crash
/// and restart, heartbeats are lost, members of a fenced node are removed at once. Checked after
/// every step: no acknowledged commit is lost across coordinator moves, accepted commits never go
/// backwards (a stale owner's are refused), the coordinator never gives one partition to two
/// members; and at the end, after quiet steps, every partition is owned by exactly one live
/// member, balanced within one. Pure and deterministic for a seed.
public struct GroupSimulation {
    /// A broken rule, with the seed and step that replay it.
    public struct Violation: Error, CustomStringConvertible {
        public let description: String
    }

    private struct Member {
        var id: MemberID?
        var epoch: Int32 = 0
        var owned: Set<TopicPartition> = []
        var positions: [TopicPartition: Int64] = [:]
        var joined = false
    }

    private var random: SeededGenerator
    private let seed: UInt64
    private let nodeCount: Int
    private let topic = "input"
    private let partitions: Int32
    private var alive: [Bool]
    private var members: [Member]
    private var coordinatorNode = 0
    private var coordinator: GroupCoordinator
    /// The offsets partition: acknowledged commits and epoch records, in order.
    private var log: [(partition: TopicPartition?, offset: Int64, epoch: Int32)] = []
    private var acknowledged: [TopicPartition: Int64] = [:]
    /// The members as the offsets partition last recorded them (GroupService writes them after
    /// every change; a move may lose the newest write, as a coordinator's node can).
    private var recordedMembers: [MemberID: GroupMember] = [:]
    private var now: Int64 = 0
    private var step = 0
    private var nextMember = 0
    /// Commits accepted over the run (to show the run did something).
    public private(set) var commits = 0
    /// Coordinator moves over the run.
    public private(set) var moves = 0

    /// A simulation of `nodes` nodes and a topic of `partitions` partitions.
    public init(seed: UInt64, nodes: Int = 3, partitions: Int32 = 6) {
        self.seed = seed
        random = SeededGenerator(seed: seed)
        nodeCount = nodes
        self.partitions = partitions
        alive = Array(repeating: true, count: nodes)
        members = Array(repeating: Member(), count: nodes)
        coordinator = GroupSimulation.fresh(epoch: 0)
    }

    private static func fresh(epoch: Int32) -> GroupCoordinator {
        GroupCoordinator(groupID: "agents", sessionTimeout: 3_000, rebalanceTimeout: 5_000, epoch: epoch)
    }

    private func fail(_ what: String) -> Violation {
        Violation(description: "seed \(seed), step \(step): \(what) (replay with GANGLION_GROUP_SEED=\(seed))")
    }

    private mutating func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }

    /// Runs `steps` steps with faults, then quiet steps, checking as it goes.
    public mutating func run(steps: Int = 400) throws {
        coordinator.updateTopics([topic: partitions])
        for _ in 0..<steps { try tick(faults: true) }
        for node in 0..<nodeCount where !alive[node] { restart(node) }
        for _ in 0..<120 { try tick(faults: false) }
        try checkSettled()
    }

    private mutating func tick(faults: Bool) throws {
        step += 1
        now += 100
        if faults { injectFault() }
        for node in 0..<nodeCount where alive[node] {
            // A lost heartbeat: the member goes on with what it believes it owns (a stale owner
            // when the coordinator moved or removed it meanwhile), committing as it goes.
            if !(faults && chance(15)) { try heartbeat(node) }
            process(node)
            if chance(30) { try commit(node) }
        }
        // Members of a node the controller fenced leave at once; others by their sessions.
        let dead = (0..<nodeCount).filter { !alive[$0] }.compactMap { members[$0].id }
        _ = coordinator.removeMembers(dead)
        _ = coordinator.expireMembers(now: now)
        // Recorded after the step, unless the write is lost with a move that comes first.
        if !(faults && chance(5)) { recordedMembers = coordinator.members }
        try checkCoordinator()
    }

    private mutating func injectFault() {
        switch random.next() % 100 {
        case 0..<3:
            // A node crashes: its member's state is gone.
            let node = Int(random.next() % UInt64(nodeCount))
            guard alive[node], alive.filter({ $0 }).count > 1 else { return }
            alive[node] = false
            members[node] = Member()
            if node == coordinatorNode { moveCoordinator() }
        case 3..<6:
            if let node = (0..<nodeCount).first(where: { !alive[$0] }) { restart(node) }
        case 6..<8:
            // The offsets partition's leadership moves (controlled shutdown, preferred leader).
            moveCoordinator()
        default:
            break
        }
    }

    private mutating func restart(_ node: Int) {
        alive[node] = true
        members[node] = Member()
    }

    /// The partition's next leader rebuilds the coordinator from the partition's records.
    private mutating func moveCoordinator() {
        let candidates = (0..<nodeCount).filter { alive[$0] && $0 != coordinatorNode }
        guard !candidates.isEmpty else { return }
        coordinatorNode = candidates[Int(random.next() % UInt64(candidates.count))]
        moves += 1
        let epoch = log.filter { $0.partition == nil }.map(\.epoch).max() ?? 0
        var next = Self.fresh(epoch: epoch)
        next.updateTopics([topic: partitions])
        for record in log { if let partition = record.partition { next.restoreOffset(record.offset, for: partition) } }
        for member in recordedMembers.values.sorted(by: { $0.id < $1.id }) {
            next.restoreMember(member.id, epoch: member.memberEpoch, subscribedTopics: member.subscribedTopics, assigned: member.held, now: now)
        }
        coordinator = next
    }

    private mutating func heartbeat(_ node: Int) throws {
        var member = members[node]
        if member.id == nil {
            nextMember += 1
            member.id = MemberID("m\(nextMember)@n\(node)")
        }
        let request = MemberHeartbeat(memberID: member.id, memberEpoch: member.joined ? member.epoch : MemberHeartbeat.joinEpoch,
                                      subscribedTopics: member.joined ? nil : [topic], ownedPartitions: member.owned)
        let before = coordinator.targetEpoch
        do {
            let response = try coordinator.heartbeat(request, now: now)
            member.joined = true
            member.epoch = response.memberEpoch
            // Revoked partitions: the position is committed first (as a host's drain does).
            let revoked = member.owned.subtracting(response.assignment)
            for partition in revoked {
                if let position = member.positions[partition] { try accept(partition, position, member: member) }
                member.positions[partition] = nil
            }
            for partition in response.assignment.subtracting(member.owned) {
                member.positions[partition] = coordinator.committedOffsets[partition] ?? 0
            }
            member.owned = response.assignment
        } catch {
            // Unknown or fenced: drop everything (uncommitted work is redone by the next owner).
            member = Member()
        }
        members[node] = member
        if coordinator.targetEpoch > before { log.append((nil, 0, coordinator.targetEpoch)) }
    }

    private mutating func process(_ node: Int) {
        for partition in members[node].owned { members[node].positions[partition, default: 0] += Int64(random.next() % 4) }
    }

    private mutating func commit(_ node: Int) throws {
        let member = members[node]
        for partition in member.owned.sorted() {
            if let position = member.positions[partition] { try accept(partition, position, member: member) }
        }
    }

    /// A commit as GroupService takes it: checked, made durable (the log), then applied.
    private mutating func accept(_ partition: TopicPartition, _ offset: Int64, member: Member) throws {
        guard let id = member.id, (try? coordinator.checkCommit(memberID: id, memberEpoch: member.epoch, partition: partition)) != nil else { return }
        guard coordinator.holders[partition] == id, coordinator.members[id]?.memberEpoch == member.epoch || coordinator.members[id]?.previousMemberEpoch == member.epoch else {
            throw fail("a commit of \(partition) by \(id) (epoch \(member.epoch)) was accepted, but the coordinator gives it to \(coordinator.holders[partition].map(\.value) ?? "nobody"): a fenced owner's commit")
        }
        if let previous = acknowledged[partition], offset < previous {
            throw fail("\(id) committed \(partition) at \(offset) after \(previous) was acknowledged: two owners' commits accepted")
        }
        log.append((partition, offset, 0))
        acknowledged[partition] = offset
        coordinator.restoreOffset(offset, for: partition)
        commits += 1
    }

    private func checkCoordinator() throws {
        for (partition, offset) in acknowledged where coordinator.committedOffsets[partition] != offset {
            throw fail("\(partition): acknowledged \(offset), the coordinator has \(coordinator.committedOffsets[partition].map(String.init) ?? "nothing") — a commit was lost")
        }
        var held: [TopicPartition: MemberID] = [:]
        for member in coordinator.members.values {
            for partition in member.held {
                if let other = held[partition] { throw fail("\(partition) given to both \(other) and \(member.id)") }
                held[partition] = member.id
            }
        }
    }

    private func checkSettled() throws {
        let all = Set((0..<partitions).map { TopicPartition(topic, $0) })
        var owners: [TopicPartition: Int] = [:]
        for node in 0..<nodeCount where alive[node] {
            for partition in members[node].owned {
                if let other = owners[partition] { throw fail("after quiet steps \(partition) is owned on n\(other) and n\(node)") }
                owners[partition] = node
            }
        }
        guard Set(owners.keys) == all else {
            let view = coordinator.members.values.map { "\($0.id) e\($0.memberEpoch) \($0.state) a\($0.assigned.map(\.partition).sorted()) p\($0.pendingRevocation.map(\.partition).sorted())" }.sorted()
            let local = (0..<nodeCount).map { "n\($0) alive \(alive[$0]) \(members[$0].id?.value ?? "-") e\(members[$0].epoch) owned \(members[$0].owned.map(\.partition).sorted())" }
            throw fail("after quiet steps \(all.subtracting(owners.keys).sorted()) have no owner; coordinator \(view) target \(coordinator.targetAssignment.mapValues { $0.map(\.partition).sorted() }) epochs g\(coordinator.groupEpoch) t\(coordinator.targetEpoch); members \(local)")
        }
        let counts = (0..<nodeCount).filter { alive[$0] }.map { members[$0].owned.count }
        guard let most = counts.max(), let least = counts.min(), most - least <= 1 else {
            throw fail("after quiet steps the shards per node are \(counts), not balanced within one")
        }
    }
}
