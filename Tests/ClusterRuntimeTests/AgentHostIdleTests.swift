import ClusterRuntime
import Foundation
@testable import Ganglion
import GanglionWire
import XCTest

/// Counts events per key.
private struct TallyAgent: Agent {
    struct State: Codable, Sendable { var count = 0 }
    let name = "tally"
    let subscription = try! AgentSubscription(topic: "tallies")

    func handle(_ context: AgentContext<State>) async throws {
        var state = context.state ?? State()
        state.count += 1
        context.state = state
    }
}

/// An idle agent host costs next to nothing: its committer looked for offsets to commit every
/// 100 ms whatever there was (nine demo agents: 90 rounds a second on a node doing nothing), and
/// an event arriving after a quiet spell is still handled and committed at once.
final class AgentHostIdleTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-host-idle-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testAnIdleHostsCommitterSlowsDownAndWakesForNewEvents() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("tallies", partitions: 2)
        let host = AgentHost(client: try GanglionClient(endpoint: node.endpoints.api))
        let running = Task { try await host.run(TallyAgent()) }
        defer { running.cancel() }
        func rounds() -> Int { host.committerPaces.withLock { $0["tally"]?.rounds ?? 0 } }
        let started = await eventually(10) { rounds() > 0 }
        XCTAssertTrue(started, "the host's committer runs")
        try await Task.sleep(for: .seconds(2))  // every shard made, nothing to commit

        let before = rounds()
        try await Task.sleep(for: .seconds(3))
        let idleRounds = rounds() - before
        XCTAssertLessThanOrEqual(idleRounds, 6, "an idle host's committer made \(idleRounds) rounds in 3 s")

        // After the quiet spell an event is handled and committed well within the slow spacing.
        var event = EventEnvelope()
        event.id = "t-1"
        event.type = "tally"
        event.key = Data("k".utf8)
        let sent = ContinuousClock.now
        _ = try await client.publish(topic: "tallies", events: [event])
        let committed = await eventually(5) {
            (try? await client.describeGroup("tally").lag.reduce(0) { $0 + $1.committedOffset }) == 1
        }
        XCTAssertTrue(committed, "the event is handled and committed")
        XCTAssertLessThan(ContinuousClock.now - sent, .milliseconds(800), "committed \(ContinuousClock.now - sent) after it was sent")
    }
}
