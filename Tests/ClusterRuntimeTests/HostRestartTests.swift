import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Counts events per key and emits one per event.
private struct TallyAgent: Agent {
    struct State: Codable, Sendable { var count = 0 }
    let name = "tally"
    let subscription = try! AgentSubscription(topic: "tally.in")

    func handle(_ context: AgentContext<State>) async throws {
        context.state = State(count: (context.state?.count ?? 0) + 1)
        context.emit(topic: "tally.out", type: "counted", data: Data(context.event.id.utf8))
    }
}

/// A host that failed leaves its group as it stops (without committing): the host started again
/// in its place — `ganglion node` restarts a failed agent after 1 s — gets the partitions at once
/// instead of waiting out the failed member's session (10 s).
final class HostRestartTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-host-restart-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testAHostStartedAgainAfterAFailureTakesThePartitionsAtOnce() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("tally.in", partitions: 2)
        try await client.createTopic("tally.out", partitions: 1)
        let failing = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(TallyAgent()) }
        try await waitForMembers(client, group: "tally")

        // Its input topic deleted under it, the host fails: its partition's stream finds the topic
        // gone. Under load the coordinator may revoke the partitions first instead; the host then
        // stays a member without partitions, which is no failure. Either way the wait is bounded
        // (it hung the suite when the revocation won): a host still running after 10 s is stopped.
        try await client.deleteTopic("tally.in")
        let bound = Task {
            try? await Task.sleep(for: .seconds(10))
            failing.cancel()
        }
        let ended = await failing.result
        bound.cancel()
        switch ended {
        case .success, .failure(is CancellationError):
            // Stopped by the bound (a cancelled host leaves gracefully and returns).
            print("HostRestartTests: the partitions were revoked before the stream found the topic gone; the host was stopped")
        case .failure:
            break  // failed without its topic: the schedule this test is about, and the usual one
        }
        try await client.createTopic("tally.in", partitions: 2)

        let started = ContinuousClock.now
        let again = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(TallyAgent()) }
        defer { again.cancel() }
        var event = EventEnvelope()
        event.id = "after-restart"
        event.type = "t"
        event.key = Data("k".utf8)
        _ = try await client.publish(topic: "tally.in", events: [event])
        var handled = false
        while !handled && ContinuousClock.now - started < .seconds(20) {
            handled = try await storedEvents(client, "tally.out").contains { String(decoding: $0.data, as: UTF8.self) == "after-restart" }
            if !handled { try await Task.sleep(for: .milliseconds(50)) }
        }
        let took = ContinuousClock.now - started
        XCTAssertTrue(handled)
        XCTAssertLessThan(took, .seconds(5), "the new host waited \(took) for the failed member's partitions")
    }
}
