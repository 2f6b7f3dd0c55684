import ClusterCore

/// The shards of one agent type on this node (DESIGN §2 ShardHost): one ``AgentShard`` per
/// assigned partition, made once however many ask for it, taken out when the partition moves,
/// and the offsets their group last committed.
public actor ShardHost {
    private var shards: [UInt32: AgentShard] = [:]
    private var commits: [UInt32: Int64] = [:]

    private var creating: [UInt32: Task<AgentShard?, any Error>] = [:]
    /// Set when the host stops (``removeAll()``): no shard is made after.
    private var stopping = false
    /// Partitions assigned to this member whose shard is not made yet: since when, and whether
    /// records reached the host before the shard was ready (the handoff then ends at the first
    /// input the shard finishes).
    private var handoffs: [UInt32: (since: ContinuousClock.Instant, eventsWaiting: Bool)] = [:]

    /// An empty host.
    public init() {}

    /// The partition's shard, if it has one.
    public func shard(_ partition: UInt32) -> AgentShard? { shards[partition] }

    /// The partition's shard, made (once, however many ask at the same time) by `make` when there
    /// is none; nil when the partition is no longer assigned once it is made (it is stopped).
    public func obtain(_ partition: UInt32, isAssigned: @escaping @Sendable () async -> Bool,
                make: @escaping @Sendable () async throws -> AgentShard) async throws -> AgentShard? {
        if let shard = shards[partition] { return shard }
        // A stopping host's records still arriving make nothing: a shard made now would fence
        // the next owner's changelog writer and handle events no one commits.
        guard !stopping else { return nil }
        if let pending = creating[partition] { return try await pending.value }
        let task = Task<AgentShard?, any Error> {
            // Not rebuilt (which fences the changelog's writer) for a partition already gone.
            guard await isAssigned() else { return nil }
            let shard = try await make()
            guard await isAssigned() else {
                await shard.stop()
                return nil
            }
            return shard
        }
        creating[partition] = task
        defer { creating[partition] = nil }
        let shard = try await task.value
        if let shard, stopping {
            await shard.stop()
            return nil
        }
        if let shard {
            shards[partition] = shard
            if let handoff = handoffs.removeValue(forKey: partition) {
                await shard.measureHandoff(since: handoff.since, eventsWaiting: handoff.eventsWaiting)
            }
        }
        return shard
    }

    /// Partitions just assigned to this member (`at` the moment it learned so): their handoffs
    /// (`ganglion_agent_handoff_seconds`) are measured from here.
    public func assigned(_ partitions: [UInt32], at instant: ContinuousClock.Instant = .now) {
        for partition in partitions where shards[partition] == nil { handoffs[partition] = (instant, false) }
    }

    /// Records of `partition` reached the host: if its shard is not ready yet, they wait for it.
    public func recordsArrived(_ partition: UInt32) {
        if shards[partition] == nil { handoffs[partition]?.eventsWaiting = true }
    }

    /// Sets the `ganglion_agent_shards` gauge of `agent` to the shards held here now.
    public func reportShards(agent: String) { AgentMetrics.shards(agent: agent, shards.count) }

    /// Entities in memory and passivated over every shard.
    public func entityCounts() async -> (live: Int, passivated: Int) {
        var total = (live: 0, passivated: 0)
        for shard in shards.values {
            let counts = await shard.entityCounts
            total.live += counts.live
            total.passivated += counts.passivated
        }
        return total
    }

    /// Removes and returns every shard: the host is stopping, and makes none after.
    public func removeAll() -> [(UInt32, AgentShard)] {
        stopping = true
        defer { shards = [:]; commits = [:]; handoffs = [:] }
        return shards.map { ($0.key, $0.value) }
    }

    /// Removes and returns a partition's shard — once it is made, if it is being made (so a
    /// revoked partition's shard is drained before the next owner rebuilds it).
    public func remove(_ partition: UInt32) async -> AgentShard? {
        if let pending = creating[partition] { _ = try? await pending.value }
        commits[partition] = nil
        handoffs[partition] = nil
        return shards.removeValue(forKey: partition)
    }

    /// Removes and returns the shards of partitions not in `held` (lost without a revocation,
    /// e.g. after the member was fenced); the caller drains them.
    public func keep(_ held: Set<TopicPartition>, topic: String) -> [AgentShard] {
        var dropped: [AgentShard] = []
        for partition in shards.keys where !held.contains(TopicPartition(topic, Int32(partition))) {
            if let shard = shards.removeValue(forKey: partition) { dropped.append(shard) }
            commits[partition] = nil
        }
        return dropped
    }

    /// Committable offsets that moved since their last commit.
    public func uncommitted() async -> [(UInt32, Int64)] {
        var moved: [(UInt32, Int64)] = []
        for (partition, shard) in shards {
            let offset = await shard.committableOffset
            if commits[partition] != offset { moved.append((partition, offset)) }
        }
        return moved
    }

    /// The group committed `offset` for `partition`.
    public func committed(_ partition: UInt32, _ offset: Int64) { commits[partition] = offset }
}
