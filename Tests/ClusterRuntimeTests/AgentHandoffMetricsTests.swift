import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import MetricsTestKit
import XCTest

/// Counts events per key and emits the count (its own name, so its metrics are its own).
private struct HandoffCountingAgent: Agent {
    struct State: Codable, Sendable { var count = 0 }
    let name = "handoff-counter"
    let subscription = try! AgentSubscription(topic: "handoff.clicks")

    func handle(_ context: AgentContext<State>) async throws {
        let count = (context.state?.count ?? 0) + 1
        context.state = State(count: count)
        context.emit(topic: "handoff.counted", type: "counted", data: Data("\(context.key):\(count)".utf8))
    }
}

/// The agent metrics of issue 18 read from an in-memory backend: a shard's handoff
/// (`ganglion_agent_handoff_seconds`, assigned → first event handled) and its restore
/// (`ganglion_agent_restore_seconds`, `ganglion_agent_restored_bytes_total`) when a second host
/// joins and takes partitions from the first.
final class AgentHandoffMetricsTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-handoff-metrics-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testAShardThatMovesToAJoiningHostRecordsItsHandoffAndRestore() async throws {
        let metrics = TestMetricsBackend.shared
        let agent = [("agent", "handoff-counter")]
        let node = try startTestNode(directory) { $0.groupSessionTimeout = 3000 }
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("handoff.clicks", partitions: 4)
        try await client.createTopic("handoff.counted", partitions: 1)
        func publish(_ range: Range<Int>) async throws {
            _ = try await client.publish(topic: "handoff.clicks", events: range.map { index in
                var event = EventEnvelope()
                event.id = "click-\(index)"
                event.type = "click"
                event.key = Data("user-\(index % 10)".utf8)
                return event
            })
        }
        func counted(_ expected: Int) async throws {
            let deadline = Date(timeIntervalSinceNow: 15)
            var seen = 0
            while Date() < deadline {
                seen = Set(try await storedEvents(client, "handoff.counted").map(\.id)).count
                if seen >= expected { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            XCTFail("\(seen) of \(expected) events counted")
        }

        try await publish(0..<40)
        let first = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(HandoffCountingAgent()) }
        defer { first.cancel() }
        func handoffs(atLeast count: Int) async throws -> [Int64] {
            let deadline = Date(timeIntervalSinceNow: 10)
            var values: [Int64] = []
            while Date() < deadline {
                values = (try? metrics.expectTimer("ganglion_agent_handoff_seconds", agent).values) ?? []
                if values.count >= count { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            return values
        }
        try await counted(40)
        // The first host's four partitions were assigned to it: four handoffs.
        let started = try await handoffs(atLeast: 4).count
        XCTAssertEqual(started, 4, "one handoff per partition assigned to the first host")

        // A second host joins: two partitions move to it, their shards rebuilt from the changelog.
        let second = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(HandoffCountingAgent()) }
        defer { second.cancel() }
        try await publish(40..<80)
        try await counted(80)
        let all = try await handoffs(atLeast: started + 2)
        XCTAssertEqual(all.count, started + 2, "one handoff per partition that moved to the second host: \(all)")
        for nanoseconds in all {
            XCTAssertGreaterThan(nanoseconds, 0)
            XCTAssertLessThan(nanoseconds, 10_000_000_000, "a handoff on one node takes well under 10 s")
        }
        XCTAssertGreaterThanOrEqual(try metrics.expectTimer("ganglion_agent_restore_seconds", agent).values.count, 6, "every shard made restored first")
        XCTAssertGreaterThan(try metrics.expectCounter("ganglion_agent_restored_bytes_total", agent).totalValue, 0,
                             "the moved shards read their state from the changelog")
    }
}
