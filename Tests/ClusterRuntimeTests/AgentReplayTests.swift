import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Decides "big" or "small" against a threshold, one decision per event.
private struct SizingAgent: Agent {
    struct State: Codable, Sendable {}
    let name = "sizer"
    let subscription = try! AgentSubscription(topic: "orders")
    let threshold: Int

    func handle(_ context: AgentContext<State>) async throws {
        let amount = (try? JSONSerialization.jsonObject(with: context.event.data) as? [String: Int])?["amount"] ?? 0
        context.decide(amount > threshold ? "big" : "small", inputs: ["amount": String(amount)], policyVersion: "threshold-\(threshold)")
    }
}

/// Replay over a range of history in a shadow: its decisions go to shadow topics, only events in
/// the range are handled, the recorded decisions stay as they were.
final class AgentReplayTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-replay-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func orders(_ range: Range<Int>) -> [EventEnvelope] {
        range.map { index in
            var event = EventEnvelope()
            event.id = "order-\(index)"
            event.type = "order"
            event.key = Data("customer-\(index % 3)".utf8)
            event.data = Data("{\"amount\":\(index * 100)}".utf8)
            return event
        }
    }

    func testAReplayOverATimeRangeDecidesInAShadow() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("orders", partitions: 2)
        _ = try await client.publish(topic: "orders", events: orders(0..<10))
        try await Task.sleep(for: .milliseconds(50))
        let cut = Date()
        try await Task.sleep(for: .milliseconds(50))
        _ = try await client.publish(topic: "orders", events: orders(10..<20))

        let live = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(SizingAgent(threshold: 500)) }
        for _ in 0..<250 where try await storedEvents(client, "sizer.decisions").count < 20 { try await Task.sleep(for: .milliseconds(20)) }
        live.cancel()
        _ = await live.result

        // The first half of history again, with another threshold.
        try await AgentHost(client: client).replay(SizingAgent(threshold: 250), shadow: "t250", from: .beginning, until: cut, timeout: .seconds(30))
        let recorded = try await storedEvents(client, "sizer.decisions")
        let replayed = try await storedEvents(client, AgentHost.shadowTopic("sizer.decisions", shadow: "t250"))
        func decisions(_ events: [EventEnvelope]) -> [String: String] {
            Dictionary(events.compactMap { event in
                (try? JSONSerialization.jsonObject(with: event.data) as? [String: String]).flatMap { object in
                    object["input_event"].map { ($0, object["decision"] ?? "?") }
                }
            }) { first, _ in first }
        }
        XCTAssertEqual(decisions(recorded).count, 20, "the recorded decisions are untouched")
        let shadow = decisions(replayed)
        XCTAssertEqual(Set(shadow.keys), Set((0..<10).map { "order-\($0)" }), "only the range was replayed")
        XCTAssertEqual(shadow["order-3"], "big", "300 > 250")
        XCTAssertEqual(decisions(recorded)["order-3"], "small", "300 ≤ 500")
        let members = try await client.describeGroup("sizer.shadow.t250").members
        XCTAssertTrue(members.isEmpty, "the replay left its group")
    }

    /// A replay to the topic's end, in a cluster, runs to the end of every partition, wherever it
    /// is led: the ends came from the answering node's metadata, where a partition it holds no
    /// replica of reads end 0, which the replay took for an empty partition and skipped.
    func testAReplayToTheEndInAClusterReachesEveryPartitionsEnd() async throws {
        let cluster = try await TestCluster.withGroups(root: directory)
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        _ = try await client.createTopic("orders", partitions: 3, replicationFactor: 1)
        try await cluster.waitForAll("orders placed") { $0.metadataState.partitions["orders"]?.allSatisfy { $0.leader != nil } == true }
        let leaders = try await client.describeTopic("orders").partitions.map(\.leader)
        XCTAssertTrue(leaders.contains { $0 != "v1" }, "a partition is led by another node than the one asked: \(leaders)")
        _ = try await client.publish(topic: "orders", events: orders(0..<12))

        try await AgentHost(client: client).replay(SizingAgent(threshold: 500), shadow: "all", timeout: .seconds(60))
        let replayed = try await storedEvents(client, AgentHost.shadowTopic("sizer.decisions", shadow: "all"))
        XCTAssertEqual(replayed.count, 12, "every partition was replayed to its end (partitions led by \(leaders))")
    }
}
