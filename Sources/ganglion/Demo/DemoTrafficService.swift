import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import ServiceLifecycle
import SwiftProtobuf

/// Feeds the demo sample transactions (now and then a large one) and prints, live, each
/// decision of the fraud agent and each alert, readable in a terminal.
struct DemoTrafficService: Service {
    let node: Node
    let rate: Double
    let seconds: Double?

    func run() async throws {
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        // The agents' topics appear once the demo agents started.
        while try await client.metadata(topics: ["transactions", "fraud-detection.decisions"]).topics.count < 2 {
            try await Task.sleep(for: .milliseconds(100))
        }
        print("""

            Ganglion demo: sample transactions go to topic `transactions`; the fraud-detection agent
            keeps per-customer history and risk, raises alerts on `alerts` and records each decision.
            Other terminal: ganglion tail alerts | ganglion group describe fraud-detection | curl \(node.endpoints.http)/metrics
            Ctrl-C stops.

            """)
        let metadata = try await client.metadata(topics: ["fraud-detection.decisions"])
        let decisions = try PartitionStream(client: client, pubEndpoint: metadata.nodes[0].pubEndpoint, topic: "fraud-detection.decisions",
                                            partition: 0, from: metadata.topics[0].partitions[0].highWatermark)
        defer { decisions.close() }
        let viewer = Task {
            for try await delivered in decisions.records() { Self.show(delivered) }
        }
        defer { viewer.cancel() }
        let producer = try await Producer(client: client)
        let started = ContinuousClock.now
        let seconds = self.seconds, rate = self.rate
        try await cancelWhenGracefulShutdown {
            var random = SystemRandomNumberGenerator()
            while seconds.map({ ContinuousClock.now - started < .seconds($0) }) ?? true {
                var event = EventEnvelope()
                event.id = UUID().uuidString.lowercased()
                event.specVersion = EventEnvelope.cloudEventsSpecVersion
                event.source = "/demo/payments"
                event.type = "transaction.created"
                event.time = Google_Protobuf_Timestamp(date: Date())
                event.key = Data("customer-\(Int.random(in: 1...6, using: &random))".utf8)
                let amount = Int.random(in: 0..<20, using: &random) == 0 ? Double(Int.random(in: 8_000...40_000, using: &random))
                    : Double(Int.random(in: 1_001...2_500, using: &random))
                event.dataContentType = "application/json"
                event.data = Data("{\"amount\":\(amount),\"merchant\":\"shop-\(Int.random(in: 1...9, using: &random))\"}".utf8)
                try await producer.send(topic: "transactions", event: event)
                try await Task.sleep(for: .seconds(1 / rate))
            }
        }
    }

    /// One line per decision: time, customer, amount, average, decision, risk.
    static func show(_ delivered: DeliveredRecord) {
        guard let envelope = try? EventEnvelope(serializedBytes: delivered.record.value ?? []),
              let object = try? JSONSerialization.jsonObject(with: envelope.data) as? [String: String] else { return }
        let customer = String(decoding: envelope.key, as: UTF8.self)
        let amount = Double(object["input.amount"] ?? "") ?? 0
        let average = Double(object["input.average"] ?? "") ?? 0
        let decision = object["decision"] ?? "?"
        let time = DateFormatter.localizedString(from: Date(), dateStyle: .none, timeStyle: .medium)
        let marker = decision == "alert" ? "⚠ ALERT" : "  pass "
        let line = "\(time)  \(marker)  \(customer.padding(toLength: 11, withPad: " ", startingAt: 0))  amount \(String(format: "%9.2f", amount))"
            + "  avg \(String(format: "%9.2f", average))  risk \(object["input.risk"] ?? "?")  (#\(object["input.count"] ?? "?"), \(object["policy_version"] ?? ""))"
        print(line)
    }
}
