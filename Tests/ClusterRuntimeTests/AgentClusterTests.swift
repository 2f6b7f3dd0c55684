import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Counts events per key and emits one `counted` event per input.
private struct Counter: Agent {
    struct State: Codable, Sendable { var count = 0 }
    let name = "counter"
    let subscription = try! AgentSubscription(topic: "clicks")

    func handle(_ context: AgentContext<State>) async throws {
        if context.isAsk {
            context.reply(Data("\(context.state?.count ?? 0)".utf8))
            return
        }
        let count = (context.state?.count ?? 0) + 1
        context.state = State(count: count)
        context.emit(topic: "counted", type: "counted", data: Data("\(context.key):\(count)".utf8))
    }
}

/// Agents on every node of a cluster (issue 18): each node hosts the agent type, its group spreads
/// the shards over the nodes; when a node leaves, its shards resume on the others from their
/// changelogs, and every event takes effect exactly once.
final class AgentClusterTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-agent-cluster-\(UUID().uuidString)" }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func clicks(_ range: Range<Int>) -> [EventEnvelope] {
        range.map { index in
            var event = EventEnvelope()
            event.id = "click-\(index)"
            event.type = "click"
            event.key = Data("user-\(index % 12)".utf8)
            return event
        }
    }

    func testShardsSpreadOverTheNodesAndMoveWhenOneLeavesEveryEventOnce() async throws {
        let cluster = try await TestCluster.withGroups(root: directory)
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        _ = try await client.createTopic("clicks", partitions: 6)
        _ = try await client.createTopic("counted", partitions: 1)
        // One host per node, each through its own node.
        var hosts: [String: Task<Void, any Error>] = [:]
        for id in cluster.voterIDs {
            let endpoint = cluster.api(id)
            hosts[id] = Task { try await AgentHost(client: try GanglionClient(endpoint: endpoint, timeout: .seconds(15))).run(Counter()) }
        }
        defer { for host in hosts.values { host.cancel() } }
        func members() async throws -> Ganglion_V1_DescribeGroupResponse { try await client.describeGroup("counter") }
        for _ in 0..<400 {
            let described = try await members()
            if described.members.count == 3, described.members.allSatisfy({ $0.assigned.flatMap(\.partitions).count == 2 }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let spread = try await members()
        XCTAssertEqual(spread.members.count, 3, "a member per node")
        XCTAssertEqual(spread.members.map { $0.assigned.flatMap(\.partitions).count }.sorted(), [2, 2, 2], "two shards per node")
        XCTAssertEqual(Set(spread.members.map(\.node)), Set(cluster.voterIDs), "each member is seen on the node it runs on")

        let producer = try await Producer(client: client)
        for event in clicks(0..<120) { try await producer.enqueue(topic: "clicks", key: Array(event.key), value: try event.serializedBytes()) }
        try await producer.flush()
        func handled() async throws -> Int64 { try await members().lag.reduce(0) { $0 + $1.committedOffset } }
        for _ in 0..<400 where try await handled() < 120 { try await Task.sleep(for: .milliseconds(50)) }
        let first = try await handled()
        XCTAssertEqual(first, 120)

        // An ask through any node reaches the shard that owns the key, wherever it runs.
        try await cluster.waitForAll("the replies topic placed") { $0.metadataState.partitions[AgentAsk.repliesTopic("counter")] != nil }
        for id in cluster.voterIDs {
            let asking = try GanglionClient(endpoint: cluster.api(id), timeout: .seconds(15))
            defer { asking.close() }
            for user in 0..<3 {
                let reply = try await asking.ask(agent: "counter", key: "user-\(user)", timeout: .seconds(5))
                XCTAssertEqual(String(decoding: reply.event.data, as: UTF8.self), "10", "asked through node \(id)")
            }
        }

        // A node leaves: its host goes first (its shards hand over), then the node.
        hosts["v3"]?.cancel()
        _ = await hosts["v3"]?.result
        cluster.stop("v3")
        for event in clicks(120..<240) { try await producer.enqueue(topic: "clicks", key: Array(event.key), value: try event.serializedBytes()) }
        try await producer.flush()
        // (The 9 asks are inputs too.)
        for _ in 0..<600 where try await handled() < 249 { try await Task.sleep(for: .milliseconds(50)) }
        let all = try await handled()
        XCTAssertEqual(all, 249, "the remaining nodes handled everything")
        let after = try await members()
        XCTAssertEqual(after.members.map { $0.assigned.flatMap(\.partitions).count }.sorted(), [3, 3], "the leaving node's shards moved")

        // Exactly once: one emitted event per input, and each key counted 1, 2, … with no gap or repeat.
        let counted = try await storedEvents(client, "counted")
        XCTAssertEqual(Set(counted.map(\.id)).count, counted.count, "no emitted event twice")
        XCTAssertEqual(counted.count, 240)
        var perKey: [String: [Int]] = [:]
        for event in counted {
            let parts = String(decoding: event.data, as: UTF8.self).split(separator: ":")
            perKey[String(parts[0]), default: []].append(Int(parts[1])!)
        }
        XCTAssertEqual(perKey.count, 12)
        for (key, counts) in perKey { XCTAssertEqual(counts, Array(1...20), "key \(key) counted in order, once each") }
    }

    /// A node that dies (here: stops without leaving its groups, as kill -9 would) loses its
    /// members as soon as the controller fences it — not a group session (10 s) later — so its
    /// shards resume on the others within the node session (1.5 s here) and a rebalance.
    func testTheShardsOfAFencedNodeMoveWithoutWaitingForTheGroupSession() async throws {
        let cluster = try await TestCluster.withGroups(root: directory) { $0.groupSessionTimeout = 30_000 }
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        _ = try await client.createTopic("clicks", partitions: 6)
        _ = try await client.createTopic("counted", partitions: 1)
        // The v3 member is a bare consumer through v3, abandoned without leaving: what a dead
        // node's members look like to their coordinator.
        let hosts = ["v1", "v2"].map { id in
            let endpoint = cluster.api(id)
            return Task { try await AgentHost(client: try GanglionClient(endpoint: endpoint, timeout: .seconds(15))).run(Counter()) }
        }
        defer { hosts.forEach { $0.cancel() } }
        let doomed = GroupConsumer(client: try GanglionClient(endpoint: cluster.api("v3"), timeout: .seconds(15)), group: "counter", topics: ["clicks"])
        for _ in 0..<400 {
            let described = try await client.describeGroup("counter")
            if described.members.count == 3, described.members.allSatisfy({ $0.assigned.flatMap(\.partitions).count == 2 }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let before = try await client.describeGroup("counter")
        XCTAssertEqual(before.members.first { $0.node == "v3" }?.assigned.flatMap(\.partitions).count, 2, "v3 holds two shards")
        await doomed.abandon()
        let stopped = ContinuousClock.now
        cluster.kill("v3")
        for _ in 0..<200 {
            let described = try await client.describeGroup("counter")
            if described.members.count == 2, described.members.allSatisfy({ $0.assigned.flatMap(\.partitions).count == 3 }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let after = try await client.describeGroup("counter")
        XCTAssertEqual(after.members.map { $0.assigned.flatMap(\.partitions).count }.sorted(), [3, 3], "the dead node's shards moved")
        XCTAssertLessThan(ContinuousClock.now - stopped, .seconds(8), "well before the 30 s group session")
    }
}
