import ClusterCore
import Foundation
import GanglionWire

/// Runs agent types against a node: each type is a consumer group over its subscription's topic,
/// each assigned partition an ``AgentShard`` rebuilt from its changelog partition
/// (`<agent>.changelog.<topic>`, compacted) before it takes events. Failed events end in
/// `<agent>.dlq`. Run several hosts (processes) and the group spreads the shards over them.
public final class AgentHost: Sendable {
    /// The node connection.
    public let client: GanglionClient

    /// A host on `client`'s node.
    public init(client: GanglionClient) { self.client = client }

    /// The dead-letter topic of an agent type.
    public static func deadLetterTopic(_ agent: String) -> String { "\(agent).dlq" }

    /// The changelog topic of an agent type's shards over `topic`.
    public static func changelogTopic(_ agent: String, topic: String) -> String { "\(agent).changelog.\(topic)" }

    /// Runs `agent` until the task is cancelled (a crash-like stop: the changelog already holds
    /// everything handled) or the node is gone.
    public func run<A: Agent>(_ agent: A) async throws {
        let topic = agent.subscription.topic
        guard let input = try await client.metadata(topics: [topic]).topics.first else {
            throw GanglionError(code: .unknownTopic, message: "agent \(agent.name) subscribes to topic \(topic), which does not exist")
        }
        let changelogTopic = Self.changelogTopic(agent.name, topic: topic)
        try await ensureTopic(changelogTopic, partitions: input.config.partitions, compacted: true)
        try await ensureTopic(Self.deadLetterTopic(agent.name), partitions: 1, compacted: false)
        try await ensureTopic("\(agent.name).decisions", partitions: 1, compacted: false)
        let producer = try await Producer(client: client)
        let consumer = GroupConsumer(client: client, group: agent.name, topics: [topic])
        var shards: [UInt32: AgentShard<A>] = [:]
        do {
            for try await batch in consumer.batches {
                // Shards of partitions this member no longer holds are dropped; their next owner
                // rebuilds them from the changelog.
                let held = await consumer.assignment
                for partition in shards.keys where !held.contains(TopicPartition(topic, Int32(partition))) { shards[partition] = nil }
                for (partition, records) in Dictionary(grouping: batch, by: \.partition).sorted(by: { $0.key < $1.key }) {
                    let shard: AgentShard<A>
                    if let existing = shards[partition] {
                        shard = existing
                    } else {
                        shard = AgentShard(agent: agent, client: client, producer: producer, changelogTopic: changelogTopic, partition: partition)
                        try await shard.recover()
                        shards[partition] = shard
                    }
                    for record in records.sorted(by: { $0.record.offset < $1.record.offset }) { try await shard.process(record) }
                    if let last = records.last { try? await consumer.commit(last) }
                }
            }
        } catch {
            await consumer.abandon()
            throw error
        }
        await consumer.close()
    }

    private func ensureTopic(_ name: String, partitions: UInt32, compacted: Bool) async throws {
        do {
            try await client.createTopic(name, partitions: partitions, retentionMilliseconds: compacted ? 0 : 7 * 24 * 3_600_000, compacted: compacted)
        } catch let error as GanglionError where error.code == .topicExists {}
    }
}
