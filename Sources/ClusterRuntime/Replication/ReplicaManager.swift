import ClusterCore
import EventLog
import Foundation
import GanglionWire
import Logging
import ZeroMQ

/// This node's replicas of replicated partitions: it leads those the metadata says it leads (at
/// the recorded leader epoch) and follows the rest of those it holds, reconciling with every
/// metadata change — level-triggered, so a missed change is caught on the next pass. A node that
/// loses its controller session stops leading at once (a fenced leader must not acknowledge).
final class ReplicaManager: @unchecked Sendable {
    /// How a leader asks the controller for a new ISR; `completion` gets the recorded state or the error.
    typealias AlterPartition = @Sendable (_ key: TopicPartition, _ leaderEpoch: Int32, _ partitionEpoch: Int32, _ isr: [String],
                                          _ completion: @escaping @Sendable (Result<Ganglion_V1_AlterPartitionResponse, ProtocolFailure>) -> Void) -> Void

    let nodeID: String
    private let logs: TopicLogs
    private let requests: PeerRequests
    /// The node's replication streams when its followers take them (nil: they fetch alone).
    private let streams: ReplicaStreams?
    private let logger: Logger
    /// How long a follower may lag the leader's log end before it leaves the ISR.
    let lagBound: Duration
    /// Where replication's answers and appends are handled, off the socket loop.
    let queue = DispatchQueue(label: "ganglion.replication")
    /// Runs when a partition's high watermark moved (wakes fetches waiting for records).
    private let committed: @Sendable (TopicPartition) -> Void
    // Guarded by `lock`.
    private let lock = NSLock()
    private var leaders: [TopicPartition: LeaderReplica] = [:]
    private var followers: [TopicPartition: FollowerReplica] = [:]
    private var sessionLost = true
    /// Whether the metadata records this process's registration (so it has caught up with
    /// everything committed before it, replicas moved off while it was down included).
    private var caughtUp = false

    init(nodeID: String, logs: TopicLogs, requests: PeerRequests, streams: ReplicaStreams? = nil, lagBound: Duration, logger: Logger,
         committed: @escaping @Sendable (TopicPartition) -> Void) {
        self.nodeID = nodeID
        self.logs = logs
        self.requests = requests
        self.streams = streams
        self.lagBound = lagBound
        self.logger = logger
        self.committed = committed
    }

    /// The leadership of `key` this node holds now (nil: it does not lead it).
    func leader(for key: TopicPartition) -> LeaderReplica? { lock.withLock { leaders[key] } }

    /// Brings the replicas in line with `state` (on the replication queue).
    func reconcile(_ state: MetadataState) {
        queue.async { self.apply(state) }
    }

    /// Whether this node's controller session is live; a node without one leads nothing.
    func sessionChanged(live: Bool, state: MetadataState) {
        let changed: Bool = lock.withLock {
            defer { sessionLost = !live }
            return sessionLost == live
        }
        guard changed else { return }
        if !live {
            NodeMetrics.sessionLost()
            logger.warning("controller session lost: this node stops leading its partitions")
        }
        reconcile(state)
    }

    /// Whether this node's copy of the metadata records this process registered and alive. When
    /// it first does (after a start, or after the node was fenced and registered again), the
    /// copies on disk of partitions this node no longer hosts are deleted: a replica that moved
    /// off while the node was down never ended here, so nothing else deletes it. Never earlier:
    /// an empty or stale copy of the metadata must not delete what the node still hosts.
    func registrationChanged(caughtUp now: Bool, state: MetadataState) {
        let became = lock.withLock {
            defer { caughtUp = now }
            return now && !caughtUp
        }
        guard became else { return }
        queue.async { self.deleteCopiesNotHosted(state) }
    }

    /// Deletes the copies on disk of partitions of existing, placed topics of which `state` does
    /// not make this node a replica (and that it does not lead or follow now: a later state may
    /// have made it one again).
    private func deleteCopiesNotHosted(_ state: MetadataState) {
        let held = lock.withLock { Set(leaders.keys).union(followers.keys) }
        let strays = logs.partitionsOnDisk().filter { key in
            guard !held.contains(key), state.topics[key.topic] != nil, let partitions = state.partitions[key.topic],
                  Int(key.partition) < partitions.count else { return false }
            return !partitions[Int(key.partition)].replicas.contains(nodeID)
        }
        guard !strays.isEmpty else { return }
        logger.info("deleting copies of partitions this node no longer hosts (moved off while it was away)",
                    metadata: ["ganglion.partitions": "\(strays.map { "\($0.topic)-\($0.partition)" }.sorted())"])
        logs.delete(strays)
    }

    private func apply(_ state: MetadataState) {
        var wanted: Set<TopicPartition> = []
        let lost = lock.withLock { sessionLost }
        for (topic, partitions) in state.partitions {
            guard let configuration = state.topics[topic] else { continue }
            for (index, partition) in partitions.enumerated() where partition.replicas.contains(nodeID) {
                let key = TopicPartition(topic, Int32(index))
                wanted.insert(key)
                guard let log = try? logs.log(key, configuration: configuration) else { continue }
                if partition.leader == nodeID, !lost {
                    becomeLeader(key, log: log, state: partition, minInSync: configuration.minInSync)
                } else {
                    becomeFollower(key, log: log, state: partition, nodes: state.nodes)
                }
            }
        }
        let (endedLeaders, endedFollowers): ([LeaderReplica], [FollowerReplica]) = lock.withLock {
            let leaving = leaders.filter { !wanted.contains($0.key) }.map(\.value)
            let unfollowed = followers.filter { !wanted.contains($0.key) }.map(\.value)
            for replica in leaving { leaders[replica.key] = nil }
            for replica in unfollowed { followers[replica.key] = nil }
            return (leaving, unfollowed)
        }
        for replica in endedLeaders { replica.stop() }
        for replica in endedFollowers { replica.stop() }
        // A topic that is gone: its replicas' logs go too (as on the node that deleted it).
        var gone: [String: Int32] = [:]
        for key in endedLeaders.map(\.key) + endedFollowers.map(\.key) where state.topics[key.topic] == nil {
            gone[key.topic] = max(gone[key.topic] ?? 0, key.partition + 1)
        }
        for (topic, partitions) in gone { logs.delete(topic: topic, partitions: partitions) }
        // A replica that moved to another node (``ReplicaBalance``): its copy here goes.
        let moved = (endedLeaders.map(\.key) + endedFollowers.map(\.key)).filter { key in
            state.partitions[key.topic].map { Int(key.partition) < $0.count && !$0[Int(key.partition)].replicas.contains(nodeID) } ?? false
        }
        if !moved.isEmpty {
            logger.info("replicas moved off this node", metadata: ["ganglion.partitions": "\(moved.map { "\($0.topic)-\($0.partition)" })"])
            logs.delete(moved)
        }
    }

    private func becomeLeader(_ key: TopicPartition, log: PartitionLog, state: PartitionState, minInSync: Int) {
        // (The same log: a topic deleted and made again under the same name has a new one.)
        if let current = leader(for: key), current.leaderEpoch == state.leaderEpoch, current.log === log {
            current.recorded(isr: state.isr, partitionEpoch: state.partitionEpoch)
            return
        }
        let follower = lock.withLock { followers.removeValue(forKey: key) }
        follower?.stop()
        do {
            let replica = try LeaderReplica(key: key, log: log, nodeID: nodeID, state: state, minInSync: minInSync, lagBound: lagBound)
            let previous: LeaderReplica? = lock.withLock {
                defer { leaders[key] = replica }
                return leaders[key]
            }
            previous?.stop()
            NodeMetrics.leaderElected(topic: key.topic)
            logger.info("leading partition", metadata: ["ganglion.partition": "\(key.topic)-\(key.partition)",
                                                        "ganglion.leader_epoch": "\(state.leaderEpoch)", "ganglion.isr": "\(state.isr)"])
            committed(key)
        } catch {
            logger.error("cannot lead \(key.topic)-\(key.partition): \(error)")
        }
    }

    private func becomeFollower(_ key: TopicPartition, log: PartitionLog, state: PartitionState, nodes: [String: ClusterNode]) {
        let previous = lock.withLock { leaders.removeValue(forKey: key) }
        previous?.stop()
        let (follower, replaced): (FollowerReplica, FollowerReplica?) = lock.withLock {
            if let existing = followers[key], existing.log === log { return (existing, nil) }
            let stale = followers[key]
            let replica = FollowerReplica(key: key, log: log, nodeID: nodeID, requests: requests, queue: queue, streams: streams, committed: committed)
            followers[key] = replica
            return (replica, stale)
        }
        replaced?.stop()
        guard let leader = state.leader, leader != nodeID, let endpoint = nodes[leader]?.api, !endpoint.isEmpty else { return }
        follower.follow(FollowerReplica.Leader(id: leader, endpoint: endpoint, epoch: state.leaderEpoch), pubEndpoint: nodes[leader]?.pub ?? "")
    }

    /// Asks the controller for the ISR changes the leaders want now (from a timer).
    func proposeISRChanges(_ alter: AlterPartition) {
        let current = lock.withLock { Array(leaders.values) }
        for replica in current {
            guard let (isr, partitionEpoch) = replica.isrProposal() else { continue }
            let before = replica.status.isr
            alter(replica.key, replica.leaderEpoch, partitionEpoch, isr) { result in
                replica.isrProposalAnswered()
                switch result {
                case .success(let recorded):
                    if recorded.leaderEpoch == replica.leaderEpoch {
                        replica.recorded(isr: recorded.isr, partitionEpoch: recorded.partitionEpoch)
                    }
                    if recorded.isr != before { NodeMetrics.isrChanged(topic: replica.key.topic, shrink: recorded.isr.count < before.count) }
                case .failure(let failure):
                    self.logger.debug("ISR change of \(replica.key.topic)-\(replica.key.partition) refused: \(failure.message)")
                }
            }
        }
    }

    /// Records the replication gauges: partitions this node leads with a replica out of sync,
    /// and each follower's lag in records.
    func reportMetrics() {
        let current = lock.withLock { Array(leaders.values) }
        var under = 0
        for replica in current {
            let (underReplicated, lags) = replica.replication
            if underReplicated { under += 1 }
            for (follower, records) in lags {
                NodeMetrics.replicationLag(partition: "\(replica.key.topic)-\(replica.key.partition)", follower: follower, records)
            }
        }
        NodeMetrics.underReplicated(under)
    }

    /// Stops every replica (the node is stopping).
    func stopAll() {
        let (allLeaders, allFollowers) = lock.withLock {
            defer { leaders = [:]; followers = [:] }
            return (Array(leaders.values), Array(followers.values))
        }
        for replica in allLeaders { replica.stop() }
        for replica in allFollowers { replica.stop() }
    }
}

extension TopicConfiguration {
    /// The fewest in-sync replicas with which an `acks=all` batch is acknowledged (default: min(2, R)).
    var minInSync: Int { Int(minInSyncReplicas ?? min(2, replicationFactor)) }
}
