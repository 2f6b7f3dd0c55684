import ClusterCore
import ClusterRuntime
import Foundation
import GanglionWire
import Synchronization

/// Runs agent types against a node: each type is a consumer group over its subscription's topic,
/// each assigned partition an ``AgentShard`` rebuilt from its changelog partition
/// (`<agent>.changelog.<topic>`, compacted) before it takes events. Failed events end in
/// `<agent>.dlq`. Run several hosts (processes) and the group spreads the shards over them.
public final class AgentHost: Sendable {
    /// The node connection.
    public let client: GanglionClient

    /// Events held per shard at most (waiting and running): beyond it the shard stops taking
    /// events from the partition.
    public let shardCapacity: Int
    /// Keys of one shard handled at once at most.
    public let maxConcurrentKeys: Int
    /// Handlers running at once at most across every shard of this host (what the node's agents
    /// may have in flight: model calls, connections); nil: no bound but the shards' own. A node
    /// added to the cluster adds its budget, so latency-bound agents scale with the nodes.
    public let maxConcurrentHandlers: Int?
    /// That budget, shared by the host's shards.
    private let slots: HandlerSlots?
    /// Entities (keys) of one shard kept in memory at most; the least recently used beyond it are
    /// passivated: their state stays in the changelog and is read back when the key is needed.
    public let maxLiveEntities: Int
    /// An entity idle this long is passivated.
    public let passivateAfter: Duration
    /// How long past its deadline an attempt that ignores cancellation keeps its key: then it is
    /// abandoned (counted as failed; whatever it returns later is discarded).
    public let deadlineGrace: Duration
    /// How long a shard giving its partition up (a rebalance, a stop) waits for its running
    /// handlers; then it abandons them (their events go unfinished to the next owner, their late
    /// results are discarded) and leaves. Keep it below the group's session timeout: the member
    /// does not heartbeat while it drains.
    public let rebalanceTimeout: Duration
    private let shardSets = ShardSetRegistry()
    /// The pace of each running agent's committer, by group (for tests).
    let committerPaces = Mutex<[String: CommitterPace]>([:])
    /// The shards' reads and writes for a changelog topic; nil: over the node protocol.
    private let shardIO: (@Sendable (_ changelogTopic: String) -> any ShardIO)?

    /// A host on `client`'s node.
    /// `shardIO` gives the shards' reads and writes another path than the client's (in the node's
    /// own process: ``NodeShardIO``, straight on its logs).
    public init(client: GanglionClient, shardCapacity: Int = 512, maxConcurrentKeys: Int = 64, maxConcurrentHandlers: Int? = nil,
                maxLiveEntities: Int = 10_000,
                passivateAfter: Duration = .seconds(300), deadlineGrace: Duration = .seconds(1), rebalanceTimeout: Duration = .seconds(5),
                shardIO: (@Sendable (_ changelogTopic: String) -> any ShardIO)? = nil) {
        self.client = client
        self.rebalanceTimeout = rebalanceTimeout
        self.deadlineGrace = deadlineGrace
        self.shardIO = shardIO
        self.maxLiveEntities = max(1, maxLiveEntities)
        self.passivateAfter = passivateAfter
        self.shardCapacity = max(1, shardCapacity)
        self.maxConcurrentKeys = max(1, maxConcurrentKeys)
        self.maxConcurrentHandlers = maxConcurrentHandlers.map { max(1, $0) }
        slots = maxConcurrentHandlers.map { HandlerSlots(limit: $0) }
    }

    /// The dead-letter topic of an agent type.
    public static func deadLetterTopic(_ agent: String) -> String { AgentAsk.deadLetterTopic(agent) }

    /// The changelog topic of an agent type's shards over `topic`.
    public static func changelogTopic(_ agent: String, topic: String) -> String { "\(agent).changelog.\(topic)" }

    /// Where an event emitted to a topic goes: the topic itself, or in the shadow replay `shadow`
    /// its ``shadowTopic(_:shadow:)``.
    static func route(shadow: String?) -> @Sendable (String) -> String {
        { emitted in shadow.map { shadowTopic(emitted, shadow: $0) } ?? emitted }
    }

    /// The consumer group of a shadow replay named `shadow`.
    public static func shadowGroup(_ agent: String, shadow: String) -> String { "\(agent).shadow.\(shadow)" }

    /// Where a shadow replay's emitted events go instead of `topic`.
    public static func shadowTopic(_ topic: String, shadow: String) -> String { "shadow.\(shadow).\(topic)" }

    /// Runs `agent` until the task is cancelled — a graceful stop: running handlers finish, the
    /// shards' offsets are committed and the group is told this member leaves, so its partitions
    /// move at once — or until a shard fails or the node is gone (then the member just stops, as
    /// a crashed one would; the changelog holds everything handled). With `shadow`, it is a replay: its own group
    /// (``shadowGroup(_:shadow:)``, starting wherever that group's offsets are — the beginning,
    /// or where `ganglion group reset-offsets` put them), its own changelog, and every emitted
    /// event sent to ``shadowTopic(_:shadow:)`` instead, to compare a new policy's decisions
    /// with the recorded ones.
    public func run<A: Agent>(_ agent: A, shadow: String? = nil) async throws {
        try await run(agent, shadow: shadow, endOffsets: nil)
    }

    /// `run(_:shadow:)` where inputs at or past `endOffsets` (per partition) are not handled.
    func run<A: Agent>(_ agent: A, shadow: String?, endOffsets: [UInt32: Int64]?) async throws {
        let topic = agent.subscription.topic
        let group = shadow.map { Self.shadowGroup(agent.name, shadow: $0) } ?? agent.name
        let changelogTopic = Self.changelogTopic(group, topic: topic)
        let route = Self.route(shadow: shadow)
        try await createTopics(for: agent, shadow: shadow)
        let producer = try await Producer(client: client)
        let io = shardIO?(changelogTopic) ?? ClientShardIO(client: client, producer: producer, changelogTopic: changelogTopic)
        let shards = ShardHost()
        let handler = AgentShardHandler(agent: agent, client: client, codecs: RegistryCodecs(client: client))
        let registration = shardSets.add(group) { await shards.entityCounts() }
        defer { shardSets.remove(registration) }
        let idle = passivateAfter.wholeMilliseconds
        let failure = FailureBox()
        let slot = ConsumerSlot()
        let nudge = LoopWake()
        let pace = CommitterPace()
        committerPaces.withLock { $0[group] = pace }
        defer { _ = committerPaces.withLock { $0.removeValue(forKey: group) } }
        // A shard exists for every assigned partition (its timers fire without new input), rebuilt
        // from the changelog before it takes events.
        let makeShard: @Sendable (UInt32) async throws -> AgentShard? = { partition in
            try await shards.obtain(partition, isAssigned: { await slot.value.assignment.contains(TopicPartition(topic, Int32(partition))) }) {
                let shard = AgentShard(handler: handler, io: io, route: route, endOffset: endOffsets.map { $0[partition] ?? 0 }, partition: partition,
                                       capacity: self.shardCapacity, maxConcurrent: self.maxConcurrentKeys, deadlineGrace: self.deadlineGrace,
                                       residency: EntityResidency(maxLive: self.maxLiveEntities, idleAfter: idle), slots: self.slots,
                                       onFailure: { error in
                    // A shard that cannot write its changelog stops the host (its events stay
                    // uncommitted); whoever runs the host restarts it from the changelogs.
                    if failure.set(error) { Task { await slot.value.abandon() } }
                }, onIdle: { nudge.signal() })
                try await shard.recover()
                return shard
            }
        }
        // A revoked partition's shard finishes its running handlers (their changelog batches
        // durable) and commits before the group hands the partition on. Each partition's records
        // go to its shard from that partition's own stream: a full shard holds back its partition
        // alone.
        let consumer = GroupConsumer(client: client, group: group, topics: [topic], onRevoked: { revoked in
            var offsets: [TopicPartition: Int64] = [:]
            for partition in revoked where partition.topic == topic {
                guard let shard = await shards.remove(UInt32(partition.partition)) else { continue }
                await shard.drain(timeout: self.rebalanceTimeout)
                offsets[partition] = await shard.committableOffset
            }
            return offsets
        }, onAssigned: { assigned in
            // Each assigned partition's handoff (`ganglion_agent_handoff_seconds`) starts now.
            await shards.assigned(assigned.filter { $0.topic == topic }.map { UInt32($0.partition) })
            // Its shard is made by the committer's next round: now, whatever its pace.
            nudge.signal()
        }, deliver: { batch in
            if pace.isIdle { nudge.signal() }
            do {
                for (partition, records) in Dictionary(grouping: batch, by: \.partition) {
                    await shards.recordsArrived(partition)
                    guard let shard = try await makeShard(partition) else { continue }
                    try await shard.submit(records.sorted { $0.record.offset < $1.record.offset }
                        .map { ShardInput(topic: $0.topic, offset: $0.record.offset, value: $0.record.value) })
                }
            } catch {
                // The shard failed (or could not be made): the member stops, as a crashed one would.
                if failure.set(error) { Task { await slot.value.abandon() } }
            }
        })
        slot.set(consumer)
        // The group resumes where every shard's handled inputs are durable: committed every 100 ms
        // (every second once idle: ``CommitterPace``), and as soon as a shard has finished all it
        // held (20 ms apart at most often), so the end of a burst is committed at once rather
        // than up to a tick later.
        let committer = Task {
            while !Task.isCancelled {
                await nudge.wait(upTo: pace.spacing, atLeast: .milliseconds(20))
                var active = false
                for partition in await consumer.assignment where partition.topic == topic {
                    if await shards.shard(UInt32(partition.partition)) == nil {
                        _ = try? await makeShard(UInt32(partition.partition))
                        active = true
                    }
                }
                // Shards of partitions this member no longer holds are dropped; their next owner
                // rebuilds them from the changelog.
                for dropped in await shards.keep(await consumer.assignment, topic: topic) {
                    active = true
                    Task { await dropped.drain(timeout: self.rebalanceTimeout) }
                }
                await shards.reportShards(agent: group)
                for (partition, offset) in await shards.uncommitted() {
                    active = true
                    if (try? await consumer.commit(topic: topic, partition: partition, offset: offset)) != nil {
                        await shards.committed(partition, offset)
                    }
                }
                pace.ended(active: active)
            }
        }
        defer { committer.cancel() }
        // Stopping: no shard may be made after the last ones are taken out.
        @Sendable func stopCommitter() async {
            committer.cancel()
            await committer.value
        }
        @Sendable func leave() async {
            await stopCommitter()
            for (partition, shard) in await shards.removeAll() {
                await shard.drain(timeout: self.rebalanceTimeout)
                await shard.stop()
                _ = try? await consumer.commit(topic: topic, partition: partition, offset: await shard.committableOffset)
            }
            await consumer.close()
        }
        do {
            // The records go to the shards by `deliver`; this waits for the stream's end or error.
            for try await _ in consumer.batches {}
        } catch is CancellationError where failure.error == nil {
            await leave()
            throw CancellationError()
        } catch {
            await stopCommitter()
            for (_, shard) in await shards.removeAll() { await shard.stop() }
            // Its shards stopped (and fenced by the next owner's writer epoch), the failed member
            // leaves without committing: restarted, the host takes its partitions back at once.
            await consumer.leaveWithoutCommitting()
            throw failure.error ?? error
        }
        if let error = failure.error {
            await stopCommitter()
            for (_, shard) in await shards.removeAll() { await shard.stop() }
            await consumer.leaveWithoutCommitting()
            throw error
        }
        await leave()
    }

    /// Entities of agent type `agent` (its group; a shadow replay's is ``shadowGroup(_:shadow:)``)
    /// on this host: in memory, and passivated (in the changelog only). Zero when it does not run here.
    public func entityCounts(of agent: String) async -> (live: Int, passivated: Int) {
        var total = (live: 0, passivated: 0)
        for counts in shardSets.counters(of: agent) {
            let (live, passivated) = await counts()
            total.live += live
            total.passivated += passivated
        }
        return total
    }

    /// Creates the topics `agent` needs beside its subscription's (its changelog, compacted, with
    /// as many partitions as the subscribed topic; its dead letters, decisions and, unless it is the
    /// shadow replay `shadow`, its `ask` replies), leaving those that exist: what ``run(_:shadow:)``
    /// does first, for deploying an agent type ahead of running it.
    public func createTopics<A: Agent>(for agent: A, shadow: String? = nil) async throws {
        let topic = agent.subscription.topic
        guard let input = try await client.metadata(topics: [topic]).topics.first else {
            throw GanglionError(code: .unknownTopic, message: "agent \(agent.name) subscribes to topic \(topic), which does not exist")
        }
        let group = shadow.map { Self.shadowGroup(agent.name, shadow: $0) } ?? agent.name
        let route = Self.route(shadow: shadow)
        // The topics are made at the same time (each is a round trip through the metadata quorum).
        var topics = [(Self.changelogTopic(group, topic: topic), input.config.partitions, true), (route(Self.deadLetterTopic(agent.name)), UInt32(1), false),
                      (route("\(agent.name).decisions"), UInt32(1), false)]
        if shadow == nil { topics.append((AgentAsk.repliesTopic(agent.name), input.config.partitions, false)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, partitions, compacted) in topics {
                group.addTask { try await self.ensureTopic(name, partitions: partitions, compacted: compacted) }
            }
            try await group.waitForAll()
        }
    }

    func ensureTopic(_ name: String, partitions: UInt32, compacted: Bool) async throws {
        do {
            try await client.createTopic(name, partitions: partitions, retentionMilliseconds: compacted ? 0 : 7 * 24 * 3_600_000, compacted: compacted)
        } catch let error as GanglionError where error.code == .topicExists {}
    }
}

/// The first failure of any shard.
final class FailureBox: @unchecked Sendable {
    // `stored` is guarded by `lock`.
    private let lock = NSLock()
    private var stored: (any Error)?

    /// Records `error` if none was; true when it was the first.
    func set(_ error: any Error) -> Bool {
        lock.withLock {
            guard stored == nil else { return false }
            stored = error
            return true
        }
    }

    var error: (any Error)? { lock.withLock { stored } }
}

/// The running agent types of a host, for ``AgentHost/entityCounts(of:)``.
final class ShardSetRegistry: @unchecked Sendable {
    // `entries` and `next` are guarded by `lock`.
    typealias Counts = @Sendable () async -> (live: Int, passivated: Int)
    private let lock = NSLock()
    private var entries: [Int: (group: String, counts: Counts)] = [:]
    private var next = 0

    func add(_ group: String, _ counts: @escaping Counts) -> Int {
        lock.withLock {
            next += 1
            entries[next] = (group, counts)
            return next
        }
    }

    func remove(_ id: Int) { lock.withLock { entries[id] = nil } }

    func counters(of group: String) -> [Counts] { lock.withLock { entries.values.filter { $0.group == group }.map(\.counts) } }
}
