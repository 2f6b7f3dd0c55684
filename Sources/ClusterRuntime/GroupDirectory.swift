import ClusterCore
import Foundation

/// The consumer groups a node coordinates: on a cluster of one, every group, in one
/// ``GroupService``; on a cluster, the groups of each `__consumer_offsets` partition the node
/// leads (``GroupPlacement``), one service per partition, loaded from the partition when the node
/// becomes its leader and dropped when it stops being it — the group's next coordinator loads
/// what it needs from its own replica.
final class GroupDirectory: @unchecked Sendable {
    // `led` is guarded by `lock`.
    private let lock = NSLock()
    /// A cluster of one's service.
    let local: GroupService?
    /// On a cluster: the services of the partitions this node leads, with the leader epoch each
    /// was loaded at.
    private var led: [Int32: (leaderEpoch: Int32, service: GroupService)] = [:]

    /// A cluster of one's groups.
    init(local: GroupService) { self.local = local }

    /// A cluster node's groups (none until it leads a `__consumer_offsets` partition).
    init() { local = nil }

    /// Every service running here now.
    var services: [GroupService] {
        if let local { return [local] }
        return lock.withLock { led.values.map(\.service) }
    }

    /// The service of `partition` led at `leaderEpoch`: the one loaded at that epoch, or one
    /// `load` makes now (a new leadership: what an older one kept is dropped).
    func service(partition: Int32, leaderEpoch: Int32, load: () throws -> GroupService) throws -> GroupService {
        if let local { return local }
        return try lock.withLock {
            if let entry = led[partition], entry.leaderEpoch == leaderEpoch { return entry.service }
            let service = try load()
            led[partition] = (leaderEpoch, service)
            return service
        }
    }

    /// Drops the services of partitions this node no longer leads at the epoch they were
    /// loaded at (`leads(partition, epoch)` false); returns how many it dropped.
    @discardableResult
    func retain(_ leads: (Int32, Int32) -> Bool) -> Int {
        guard local == nil else { return 0 }
        return lock.withLock {
            let gone = led.filter { !leads($0.key, $0.value.leaderEpoch) }.map(\.key)
            for partition in gone { led[partition] = nil }
            return gone.count
        }
    }

    /// The topics `group` consumes, from whichever service here knows it (empty if none does).
    func topics(ofGroup group: String) -> Set<String> {
        for service in services {
            let topics = service.topics(ofGroup: group)
            if !topics.isEmpty { return topics }
        }
        return []
    }

    /// Forgets every group's offsets on a deleted topic, in the services here.
    func forgetOffsets(ofTopic topic: String) {
        for service in services { service.forgetOffsets(ofTopic: topic) }
    }

    /// Forgets every group's offsets on `topic` committed on another topic id than `topicID`, in
    /// the services here.
    func forgetOffsets(ofTopic topic: String, otherThan topicID: String) {
        for service in services { service.forgetOffsets(ofTopic: topic, otherThan: topicID) }
    }

    /// Removes members whose sessions expired, or whose node `isGone(node, incarnation)`, in
    /// every service.
    func expireMembers(isGone: (String, UInt64?) -> Bool = { _, _ in false }) {
        for service in services { service.expireMembers(isGone: isGone) }
    }

    /// Compacts what the services own.
    func maintain() { for service in services { service.maintain() } }

    /// The committed offsets of every group here.
    func committedOffsets() -> [(group: String, partition: TopicPartition, offset: Int64)] {
        services.flatMap { service in
            service.committedOffsets().flatMap { group, offsets in offsets.map { (group, $0.key, $0.value) } }
        }
    }

    /// Closes what the services own.
    func close() { for service in services { service.close() } }
}
