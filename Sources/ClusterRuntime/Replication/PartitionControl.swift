import ClusterCore
import Foundation

/// The controller leader's partition decisions, level-triggered from a timer: a partition whose
/// leader left (fenced or shut down) gets a new leader from its ISR, a replica that left leaves
/// the ISRs, an offline partition gets a returning in-sync replica as leader, and — now and
/// then — leadership goes back to preferred replicas in sync and replicas move, one at a time,
/// onto nodes holding fewer (``ReplicaBalance``: a node that joined takes its share). One change
/// per partition is in flight at a time; each is decided again against the metadata at commit time.
final class PartitionControl: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var inFlight: Set<TopicPartition> = []

    /// The changes `state` calls for now (at most one per partition), preferred leaders included
    /// when `preferred`, the next step of replica balance when `balance`.
    static func changes(in state: MetadataState, preferred: Bool, balance: Bool = false) -> [PartitionChange] {
        guard !state.partitions.isEmpty else { return [] }
        let alive = Set(state.nodes.values.filter { $0.state == .alive }.map(\.id))
        var partitions = state.partitions
        var changed: Set<TopicPartition> = []
        var all: [PartitionChange] = []
        func take(_ changes: [PartitionChange]) {
            for change in changes where changed.insert(TopicPartition(change.topic, change.partition)).inserted {
                all.append(change)
                partitions[change.topic]?[Int(change.partition)] = change.state
            }
        }
        for node in state.nodes.values.sorted(by: { $0.id < $1.id }) where node.state != .alive {
            take(PartitionLeadership.afterNodeLeft(node.id, partitions: partitions, alive: alive))
        }
        for node in alive.sorted() {
            take(PartitionLeadership.afterNodeReturned(node, partitions: partitions))
        }
        if preferred { take(PartitionLeadership.preferredLeaders(partitions: partitions, alive: alive)) }
        if balance, let step = ReplicaBalance.next(partitions: partitions, alive: alive) { take([step]) }
        return all
    }

    /// Commits the changes the metadata calls for now, through `metadata`.
    func reconcile(_ metadata: any MetadataLog, preferred: Bool, balance: Bool = false) {
        for change in Self.changes(in: metadata.state, preferred: preferred, balance: balance) {
            let key = TopicPartition(change.topic, change.partition)
            guard lock.withLock({ inFlight.insert(key).inserted }) else { continue }
            metadata.commit(deciding: { state in
                guard let next = Self.changes(in: state, preferred: preferred, balance: balance).first(where: { $0.topic == key.topic && $0.partition == key.partition }) else {
                    throw UnchangedMetadata()
                }
                return .partitionChanged(next)
            }) { [self] _ in
                _ = lock.withLock { inFlight.remove(key) }
            }
        }
    }
}
