import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Counts handled events per key; every event of the key `hot` waits until the test ends.
private struct SlowHotKeyAgent: Agent {
    struct State: Codable, Sendable { var count = 0 }
    let name = "isolation"
    let subscription = try! AgentSubscription(topic: "work")
    let retryPolicy = RetryPolicy(maxAttempts: 1, attemptDeadlineMilliseconds: 600_000)
    let handled: SeenIDs

    func handle(_ context: AgentContext<State>) async throws {
        if context.key == "hot" { try await Task.sleep(for: .seconds(600)) }
        context.state = State(count: (context.state?.count ?? 0) + 1)
        handled.add(context.event.id)
    }
}

/// Guarantee 3 of issue 14: each shard's intake is its own, so a full shard on one partition
/// never stops another partition's events.
final class PartitionIsolationTests: XCTestCase {
    func testAFullShardOnOnePartitionDoesNotStallAnother() async throws {
        let directory = NSTemporaryDirectory() + "ganglion-isolation-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("work", partitions: 2)
        // A hot key on one partition, a cold key on the other.
        let hot = KeyPartitioner.partition(for: Array("hot".utf8), partitionCount: 2)
        let cold = (0..<100).map { "cold-\($0)" }.first { KeyPartitioner.partition(for: Array($0.utf8), partitionCount: 2) != hot }!
        func event(_ id: String, key: String) -> EventEnvelope {
            var event = EventEnvelope()
            event.id = id
            event.type = "work"
            event.key = Data(key.utf8)
            return event
        }
        let handled = SeenIDs()
        let host = Task {
            try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api), shardCapacity: 4, maxConcurrentKeys: 2)
                .run(SlowHotKeyAgent(handled: handled))
        }
        defer { host.cancel() }
        // The hot partition's shard fills (one running, the rest waiting behind it) and more wait
        // to get in.
        _ = try await client.publish(topic: "work", events: (0..<50).map { event("hot-\($0)", key: "hot") })
        try await Task.sleep(for: .milliseconds(500))
        _ = try await client.publish(topic: "work", events: (0..<20).map { event("cold-event-\($0)", key: cold) })
        let flowed = await eventually(30) { (0..<20).allSatisfy { handled.count("cold-event-\($0)") == 1 } }
        XCTAssertTrue(flowed, "the other partition's events are handled: \(handled.all.count) of 20")
    }
}
