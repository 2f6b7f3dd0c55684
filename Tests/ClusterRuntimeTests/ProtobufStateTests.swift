import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import XCTest

extension Ganglion_V1_PartitionOffset: ProtobufAgentState {}

/// Keeps a protobuf message as its state: the last offset seen per key and how many events.
private struct OffsetTracker: Agent {
    typealias State = Ganglion_V1_PartitionOffset
    let name = "offset-tracker"
    let subscription = try! AgentSubscription(topic: "readings")

    func handle(_ context: AgentContext<State>) async throws {
        var state = context.state ?? State()
        state.topic = context.key
        state.partition += 1
        state.offset = context.offset
        context.state = state
        if context.isAsk { context.reply(try state.jsonUTF8Data()) }
    }
}

/// A protobuf message as an agent's state: stored in the changelog as protobuf binary, rebuilt
/// from it by the next host.
final class ProtobufStateTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-proto-state-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testAProtobufStateIsStoredAsBinaryAndRebuilt() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("readings", partitions: 1)
        let readings = (0..<5).map { index in
            var event = EventEnvelope()
            event.id = "reading-\(index)"
            event.type = "reading"
            event.key = Data("sensor-1".utf8)
            return event
        }
        _ = try await client.publish(topic: "readings", events: readings)
        let first = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(OffsetTracker()) }
        for _ in 0..<250 where try await client.describeGroup("offset-tracker").lag.first?.committedOffset != 5 { try await Task.sleep(for: .milliseconds(20)) }
        first.cancel()
        _ = await first.result

        let changelog = try await client.readAll(topic: AgentHost.changelogTopic("offset-tracker", topic: "readings"))
        let stored = try XCTUnwrap(changelog.last { $0.key == Array("s\u{0}sensor-1".utf8) }?.value)
        let decoded = try Ganglion_V1_PartitionOffset(serializedBytes: stored)
        XCTAssertEqual(decoded.partition, 5, "stored as protobuf binary")
        XCTAssertEqual(decoded.offset, 4)

        // A new host rebuilds it: the ask is the sixth event of the key.
        let second = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(OffsetTracker()) }
        defer { second.cancel() }
        let reply = try await client.ask(agent: "offset-tracker", key: "sensor-1", timeout: .seconds(10))
        let state = try Ganglion_V1_PartitionOffset(jsonUTF8Data: reply.data)
        XCTAssertEqual(state.partition, 6)
        XCTAssertEqual(state.topic, "sensor-1")
    }
}
