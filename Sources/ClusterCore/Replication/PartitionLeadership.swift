/// A change of one partition's state, as the controller records it.
public struct PartitionChange: Sendable, Hashable, Codable {
    /// The topic.
    public var topic: String
    /// The partition.
    public var partition: Int32
    /// The state after the change.
    public var state: PartitionState

    /// A change.
    public init(topic: String, partition: Int32, state: PartitionState) {
        self.topic = topic
        self.partition = partition
        self.state = state
    }
}

/// The controller's decisions about partition leadership, as pure functions of the recorded
/// partitions and which nodes are alive: a new leader from the in-sync replicas when a leader
/// leaves, the leadership back to a returning replica of an offline partition, the preferred
/// leader once it is back in sync, and the ISR changes a leader asks for (Kafka's AlterPartition).
/// No unclean election: a leader is only ever chosen from the ISR.
public enum PartitionLeadership {
    /// What follows `node` leaving (fenced, or shut down): every partition it led gets the
    /// first other live in-sync replica (in preference order) as leader with a new leader epoch;
    /// it leaves every ISR it was in — except as the last member: then the partition is offline
    /// (no leader) and keeps it in the ISR, so it can lead again when it returns, losing nothing.
    public static func afterNodeLeft(_ node: String, partitions: [String: [PartitionState]], alive: Set<String>) -> [PartitionChange] {
        var changes: [PartitionChange] = []
        for (topic, states) in partitions.sorted(by: { $0.key < $1.key }) {
            for (index, state) in states.enumerated() where state.isr.contains(node) || state.leader == node {
                var next = state
                next.partitionEpoch += 1
                if state.isr.count > 1 { next.isr.removeAll { $0 == node } }
                if state.leader == node {
                    next.leader = next.replicas.first { $0 != node && next.isr.contains($0) && alive.contains($0) }
                    next.leaderEpoch += 1
                    if next.leader == nil { next.isr = state.isr }  // offline: keep who may lead again
                } else if let leader = next.leader, !next.isr.contains(leader) {
                    next.leader = nil
                    next.leaderEpoch += 1
                }
                guard next.isr != state.isr || next.leader != state.leader else { continue }
                changes.append(PartitionChange(topic: topic, partition: Int32(index), state: next))
            }
        }
        return changes
    }

    /// What follows `node` returning: every offline partition whose ISR holds it gets it as leader.
    public static func afterNodeReturned(_ node: String, partitions: [String: [PartitionState]]) -> [PartitionChange] {
        var changes: [PartitionChange] = []
        for (topic, states) in partitions.sorted(by: { $0.key < $1.key }) {
            for (index, state) in states.enumerated() where state.leader == nil && state.isr.contains(node) {
                var next = state
                next.leader = node
                next.leaderEpoch += 1
                next.partitionEpoch += 1
                changes.append(PartitionChange(topic: topic, partition: Int32(index), state: next))
            }
        }
        return changes
    }

    /// Partitions whose preferred replica (the first) is alive and in sync but does not lead:
    /// leadership moves back to it, so leaders stay spread after restarts.
    public static func preferredLeaders(partitions: [String: [PartitionState]], alive: Set<String>) -> [PartitionChange] {
        var changes: [PartitionChange] = []
        for (topic, states) in partitions.sorted(by: { $0.key < $1.key }) {
            for (index, state) in states.enumerated() {
                guard let preferred = state.replicas.first, state.leader != preferred, state.isr.contains(preferred),
                      alive.contains(preferred) else { continue }
                var next = state
                next.leader = preferred
                next.leaderEpoch += 1
                next.partitionEpoch += 1
                changes.append(PartitionChange(topic: topic, partition: Int32(index), state: next))
            }
        }
        return changes
    }

    /// A leader's request to change the ISR to `isr`, decided against the recorded `state`:
    /// refused unless it comes from the current leader at the current epochs, keeps the leader
    /// in sync, and names only replicas.
    public static func alterISR(_ state: PartitionState, from leader: String, leaderEpoch: Int32, partitionEpoch: Int32,
                                isr: [String]) throws(MetadataError) -> PartitionState {
        guard state.leader == leader, state.leaderEpoch == leaderEpoch else {
            throw MetadataError(code: .staleEpoch,
                                message: "\(leader) at leader epoch \(leaderEpoch) no longer leads (leader \(state.leader ?? "none"), epoch \(state.leaderEpoch))")
        }
        guard state.partitionEpoch == partitionEpoch else {
            throw MetadataError(code: .staleEpoch, message: "partition epoch \(partitionEpoch) is not the recorded \(state.partitionEpoch); refresh and retry")
        }
        var next = state
        next.isr = state.replicas.filter { isr.contains($0) }
        next.partitionEpoch += 1
        guard next.isr.contains(leader) else {
            throw MetadataError(code: .invalidConfiguration, message: "the leader \(leader) must stay in sync")
        }
        try state.checkSuccessor(next)
        return next
    }
}
