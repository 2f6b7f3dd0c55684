/// Spreads replicas, and with them leaderships, onto nodes that hold fewer than the others — a
/// node that joined gets its share of the existing partitions, not only of new ones (Kafka needs
/// a manual reassignment for this). One partition moves at a time, and only while every
/// partition is fully in sync, so moving never costs redundancy: the new replica is added first
/// (it copies the log as a follower), and the one it replaces leaves only once the new one is in
/// sync, handing over its place in the preference order — and its leadership, if it led.
/// Pure: the controller applies the steps it returns (``PartitionState/checkSuccessor(_:)``
/// checks each).
public enum ReplicaBalance {
    /// The next step towards balance, or nil: the move in flight finished once its new replica
    /// is in sync (undone if that replica's node is no longer alive), else — when no partition
    /// lacks an in-sync replica or a leader — a new move of one replica from the alive node
    /// holding most to the one holding fewest, when they differ by two or more. A move prefers a
    /// partition the fuller node is the preferred leader of while it prefers more partitions
    /// than the emptier one, so leaderships spread with the replicas.
    public static func next(partitions: [String: [PartitionState]], alive: Set<String>) -> PartitionChange? {
        let all = partitions.sorted { $0.key < $1.key }.flatMap { topic, states in
            states.enumerated().map { (topic: topic, partition: Int32($0.offset), state: $0.element) }
        }
        if let moving = all.first(where: { $0.state.removing != nil }) {
            return advance(moving.state, alive: alive).map { PartitionChange(topic: moving.topic, partition: moving.partition, state: $0) }
        }
        guard alive.count > 1, all.allSatisfy({ $0.state.leader != nil && $0.state.isr.count == $0.state.replicas.count }) else { return nil }
        var held: [String: Int] = Dictionary(uniqueKeysWithValues: alive.map { ($0, 0) })
        var preferred = held
        for entry in all {
            for replica in entry.state.replicas where alive.contains(replica) { held[replica, default: 0] += 1 }
            if let first = entry.state.replicas.first, alive.contains(first) { preferred[first, default: 0] += 1 }
        }
        let nodes = alive.sorted()
        guard let fullest = nodes.max(by: { (held[$0]!, preferred[$0]!, $1) < (held[$1]!, preferred[$1]!, $0) }),
              let emptiest = nodes.min(by: { (held[$0]!, preferred[$0]!, $0) < (held[$1]!, preferred[$1]!, $1) }),
              held[fullest]! - held[emptiest]! >= 2 else { return nil }
        let candidates = all.filter { $0.state.replicas.contains(fullest) && !$0.state.replicas.contains(emptiest) }
        let leads = preferred[fullest]! > preferred[emptiest]! + 1
        guard let chosen = candidates.first(where: { ($0.state.replicas.first == fullest) == leads }) ?? candidates.first else { return nil }
        return PartitionChange(topic: chosen.topic, partition: chosen.partition, state: start(chosen.state, moving: fullest, to: emptiest))
    }

    /// The first step of moving `state`'s replica on `from` to `to` (not a replica): `to` is
    /// added last and `from` named to leave; the leader epoch is raised, so the leader tracks the
    /// new follower.
    public static func start(_ state: PartitionState, moving from: String, to: String) -> PartitionState {
        var next = state
        next.replicas.append(to)
        next.removing = from
        next.leaderEpoch += 1
        next.partitionEpoch += 1
        return next
    }

    /// The next step of the move in flight on `state`: finished once the new replica is in
    /// sync, undone when its node is not alive (and not in sync); nil while neither holds.
    public static func advance(_ state: PartitionState, alive: Set<String>) -> PartitionState? {
        finish(state) ?? undo(state, alive: alive)
    }

    /// The move's last step, once its new replica is in sync: it takes the leaving replica's
    /// place (and leadership), the leaving one drops out of the replicas and the ISR.
    static func finish(_ state: PartitionState) -> PartitionState? {
        guard let leaving = state.removing, let added = state.adding, state.isr.contains(added) else { return nil }
        var next = state
        next.replicas = state.replicas.dropLast().map { $0 == leaving ? added : $0 }
        next.isr = next.replicas.filter { state.isr.contains($0) }
        if state.leader == leaving { next.leader = added }
        next.removing = nil
        next.leaderEpoch += 1
        next.partitionEpoch += 1
        return next
    }

    /// Undoes a move whose new replica's node is gone (not in sync and not alive).
    static func undo(_ state: PartitionState, alive: Set<String>) -> PartitionState? {
        guard let added = state.adding, !alive.contains(added), !state.isr.contains(added), state.leader != added else { return nil }
        var next = state
        next.replicas.removeLast()
        next.removing = nil
        next.leaderEpoch += 1
        next.partitionEpoch += 1
        return next
    }
}
