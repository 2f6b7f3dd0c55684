import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import SchemaRegistry
import XCTest

/// Records which payments reached it.
private struct RiskyPaymentsAgent: Agent {
    struct State: Codable, Sendable { var seen: [String] = [] }
    let name = "risky-payments"
    let subscription = try! AgentSubscription(topic: "payments", filter: #"amount > 1000 && risk.level == "high""#)

    func handle(_ context: AgentContext<State>) async throws {
        context.emit(topic: "risky", type: "payment.risky", data: Data(context.event.id.utf8))
    }
}

/// Filters over protobuf payload fields: the payload is decoded through its registry schema —
/// named by the envelope or by Confluent's framing — before the handler would run.
final class ProtobufFilterTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-proto-filter-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testProtobufPayloadFieldsAreFilteredThroughTheRegistry() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("payments", partitions: 2)
        try await client.createTopic("risky", partitions: 1)
        let schema = """
            syntax = "proto3";
            package shop;
            message Payment { double amount = 1; string customer = 2; Risk risk = 3; }
            message Risk { string level = 1; }
            """
        let (id, _) = try await client.registerSchema(subject: "payments-value", schema: schema)
        let codec = try await RegistryCodecs(client: client).schema(id: Int32(id)).codec
        func payment(_ eventID: String, amount: Int, level: String, framed: Bool) throws -> EventEnvelope {
            let binary = try codec.binary(fromJSON: #"{"amount": \#(amount), "customer": "c1", "risk": {"level": "\#(level)"}}"#, messageType: "shop.Payment")
            var event = EventEnvelope()
            event.id = eventID
            event.type = "payment"
            event.key = Data("c1".utf8)
            if framed {
                event.data = Data(ConfluentFraming.header(schemaID: Int32(id)) + binary)
            } else {
                event.schemaID = UInt32(id)
                event.messageName = "shop.Payment"
                event.data = Data(binary)
            }
            event.dataContentType = "application/protobuf"
            return event
        }
        var json = EventEnvelope()
        json.id = "json-big-high"
        json.type = "payment"
        json.key = Data("c2".utf8)
        json.data = Data(#"{"amount": 5000, "risk": {"level": "high"}}"#.utf8)
        _ = try await client.publish(topic: "payments", events: [
            try payment("proto-big-high", amount: 5000, level: "high", framed: false),
            try payment("proto-big-low", amount: 5000, level: "low", framed: false),
            try payment("proto-small-high", amount: 10, level: "high", framed: false),
            try payment("framed-big-high", amount: 2000, level: "high", framed: true),
            try payment("framed-small-high", amount: 999, level: "high", framed: true),
            json,
        ])
        let host = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(RiskyPaymentsAgent()) }
        defer { host.cancel() }
        for _ in 0..<250 {
            let lag = try await client.describeGroup("risky-payments").lag
            if lag.count == 2, lag.allSatisfy({ $0.lag == 0 }), lag.reduce(0, { $0 + $1.committedOffset }) == 6 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Emitted events are forwarded after their input's batch is durable (off the handler's
        // path): the committed offsets can be there a moment before the last of them.
        var risky: [String] = []
        for _ in 0..<250 {
            risky = try await storedEvents(client, "risky").map { String(decoding: $0.data, as: UTF8.self) }
            if risky.count >= 3 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(Set(risky), ["proto-big-high", "framed-big-high", "json-big-high"])
        XCTAssertEqual(risky.count, 3)
    }
}
