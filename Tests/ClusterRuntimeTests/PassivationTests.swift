import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Counts ticks per key and answers asks with the count.
private struct TickCounter: Agent {
    struct State: Codable, Sendable { var count = 0 }
    let name = "tick-counter"
    let subscription = try! AgentSubscription(topic: "ticks")

    func handle(_ context: AgentContext<State>) async throws {
        if context.isAsk {
            context.reply(Data("\(context.state?.count ?? 0)".utf8))
            return
        }
        context.state = State(count: (context.state?.count ?? 0) + 1)
    }
}

/// Passivation (DESIGN §4): a bound on live entities per shard and an idle time; entities beyond
/// them leave memory and come back from the changelog, state and handled ids intact.
final class PassivationTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-passivation-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func ticks(_ keys: Range<Int>, round: Int) -> [EventEnvelope] {
        keys.map { index in
            var event = EventEnvelope()
            event.id = "tick-\(index)-\(round)"
            event.type = "tick"
            event.key = Data("key-\(index)".utf8)
            return event
        }
    }

    private func settle(_ client: GanglionClient) async throws {
        for _ in 0..<500 {
            let lag = try await client.describeGroup("tick-counter").lag
            if lag.count == 2, lag.allSatisfy({ $0.lag == 0 }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("the group did not catch up")
    }

    func testEntitiesBeyondTheBoundLeaveMemoryAndComeBackIntact() async throws {
        try await bound(onNodeLogs: false)
    }

    func testEntitiesComeBackFromTheNodesLogsDirectly() async throws {
        try await bound(onNodeLogs: true)
    }

    private func bound(onNodeLogs: Bool) async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("ticks", partitions: 2)
        var shardIO: (@Sendable (String) -> any ShardIO)?
        if onNodeLogs { shardIO = { changelogTopic in NodeShardIO(node: node, changelogTopic: changelogTopic) } }
        let host = AgentHost(client: try GanglionClient(endpoint: node.endpoints.api), maxLiveEntities: 4, shardIO: shardIO)
        let running = Task { try await host.run(TickCounter()) }
        defer { running.cancel() }
        for round in 0..<3 { _ = try await client.publish(topic: "ticks", events: ticks(0..<40, round: round)) }
        try await settle(client)
        let counts = await host.entityCounts(of: "tick-counter")
        XCTAssertLessThanOrEqual(counts.live, 8, "at most 4 live per shard: \(counts)")
        XCTAssertGreaterThanOrEqual(counts.passivated, 32, "\(counts)")

        // Redeliveries of handled events for passivated keys are still recognised; new ticks count on.
        _ = try await client.publish(topic: "ticks", events: ticks(0..<40, round: 1) + ticks(0..<40, round: 3))
        try await settle(client)
        for index in 0..<40 {
            let reply = try await client.ask(agent: "tick-counter", key: "key-\(index)")
            XCTAssertEqual(String(decoding: reply.data, as: UTF8.self), "4", "key-\(index) counted each tick once")
        }
        // The last reply goes out just before its event finishes (and the bound is applied).
        var after = await host.entityCounts(of: "tick-counter")
        for _ in 0..<50 where after.live > 8 {
            try await Task.sleep(for: .milliseconds(10))
            after = await host.entityCounts(of: "tick-counter")
        }
        XCTAssertLessThanOrEqual(after.live, 8, "\(after)")
    }

    func testIdleEntitiesLeaveMemory() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("ticks", partitions: 2)
        let host = AgentHost(client: try GanglionClient(endpoint: node.endpoints.api), passivateAfter: .milliseconds(300))
        let running = Task { try await host.run(TickCounter()) }
        defer { running.cancel() }
        _ = try await client.publish(topic: "ticks", events: ticks(0..<10, round: 0))
        try await settle(client)
        var counts = await host.entityCounts(of: "tick-counter")
        for _ in 0..<100 where counts.live > 0 {
            try await Task.sleep(for: .milliseconds(20))
            counts = await host.entityCounts(of: "tick-counter")
        }
        XCTAssertEqual(counts.live, 0, "every idle entity left memory")
        XCTAssertEqual(counts.passivated, 10)
        let reply = try await client.ask(agent: "tick-counter", key: "key-3")
        XCTAssertEqual(String(decoding: reply.data, as: UTF8.self), "1")
    }
}
