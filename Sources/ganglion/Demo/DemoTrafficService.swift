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
        let client = try GanglionClient(endpoint: node.endpoints.api, credentials: node.clientCredentials)
        defer { client.close() }
        // The agents' topics appear once the demo agents started.
        while try await client.metadata(topics: ["transactions", "fraud-detection.decisions", "ci.statuses", "docs.outcomes", "tasks.verified"]).topics.count < 5 {
            try await Task.sleep(for: .milliseconds(100))
        }
        print("""

            Ganglion demo: sample transactions go to topic `transactions`; the fraud-detection agent
            keeps per-customer history and risk, raises alerts on `alerts` and records each decision.
            Every 2 s a push goes to `ci.pushes`: the tests, security and lint agents check it in
            parallel and the aggregator joins their reports into the commit's status on `ci.statuses`.
            Every 3 s a document enters a saga (extract → validate → route → notify); a failing step
            triggers compensations of the steps done, newest first (`docs.outcomes`).
            Every 2 s a task goes to `tasks`: a worker that hangs or crashes is retried under its
            deadline; a verifier group verifies, re-queues or escalates the result (`tasks.verified`).
            Other terminal: ganglion tail alerts | ganglion group describe fraud-detection | curl \(node.endpoints.http)/metrics
            Ctrl-C stops.

            """)
        // One live view per outcome topic, from its end.
        var followers: [(PartitionStream, Task<Void, any Error>)] = []
        for (topic, show) in [("fraud-detection.decisions", Self.show), ("ci.statuses", Self.showStatus), ("docs.outcomes", Self.showOutcome),
                              ("tasks.verified", Self.showTask)] as [(String, @Sendable (DeliveredRecord) -> Void)] {
            // From the end as the partition's leader knows it, on the leader's stream.
            let end = try await client.listOffsets(topic: topic, partitions: [0], timestamp: -1).first?.offset ?? 0
            let stream = try PartitionStream(client: client, pubEndpoint: try await client.leader(of: topic, partition: 0).pub, topic: topic,
                                             partition: 0, from: end)
            followers.append((stream, Task { for try await delivered in stream.records() { show(delivered) } }))
        }
        defer {
            for (stream, viewer) in followers {
                viewer.cancel()
                stream.close()
            }
        }
        let producer = try await Producer(client: client)
        do {
            try await feed(producer)
        } catch where Task.isShuttingDownGracefully {
            // Ctrl-C or SIGTERM ended the feed (cancelled mid-send or mid-sleep): a normal end.
            // Thrown on, the error would make the service group cancel every service at once
            // instead of stopping them in turn (the agents leaving before the node stops), and
            // the process did not exit.
        }
    }

    /// Sends sample traffic until the run's seconds are up or the group shuts down.
    private func feed(_ producer: Producer) async throws {
        let started = ContinuousClock.now
        let seconds = self.seconds, rate = self.rate
        try await cancelWhenGracefulShutdown {
            var random = SystemRandomNumberGenerator()
            var lastPush = ContinuousClock.now - .seconds(2)
            var lastDocument = ContinuousClock.now - .seconds(3)
            var documents = 0
            var tasks = 0
            var pushes = 0
            var lastTask = ContinuousClock.now - .seconds(2)
            let kinds = ["plain", "hangs", "plain", "flaky", "sloppy", "plain", "hopeless"]
            let names = ["invoice", "contract", "corrupt-scan", "receipt", "unroutable-memo", "statement"]
            let messages = ["Fix flaky retry test", "WIP: new scoring model", "Bump dependencies", "Add audit trail", "break: refactor ledger",
                            "Rotate secret in config", "Improve docs", "Retry on a slow runner"]
            while seconds.map({ ContinuousClock.now - started < .seconds($0) }) ?? true {
                if ContinuousClock.now - lastTask >= .seconds(2) {
                    lastTask = .now
                    tasks += 1
                    let kind = kinds[(tasks - 1) % kinds.count]
                    try await producer.send(topic: "tasks", event: Self.event(source: "/demo/queue", type: "task.submitted", key: "task-\(tasks)",
                                                                             json: ["task": "task-\(tasks)", "kind": kind]))
                    print("task task-\(tasks) (\(kind)) queued")
                }
                if ContinuousClock.now - lastDocument >= .seconds(3) {
                    lastDocument = .now
                    documents += 1
                    let name = "\(names[(documents - 1) % names.count])-\(documents)"
                    try await producer.send(topic: "docs.events", event: Self.event(source: "/demo/inbox", type: "document.received",
                                                                                   key: "doc-\(documents)", json: ["name": name]))
                    print("document doc-\(documents) \"\(name)\" received")
                }
                if ContinuousClock.now - lastPush >= .seconds(2) {
                    lastPush = .now
                    let sha = String(UInt64.random(in: 0...UInt64.max, using: &random), radix: 16)
                    // In turn, so every outcome shows (a pass first) and a short run is not all slow pushes.
                    pushes += 1
                    let message = messages[(pushes - 1) % messages.count]
                    var push = Self.event(source: "/demo/git", type: "push", key: sha, json: ["sha": sha, "message": message])
                    push.correlationID = sha
                    try await producer.send(topic: "ci.pushes", event: push)
                    print("push \(sha.prefix(8))  \"\(message)\"")
                }
                let amount = Int.random(in: 0..<20, using: &random) == 0 ? Double(Int.random(in: 8_000...40_000, using: &random))
                    : Double(Int.random(in: 1_001...2_500, using: &random))
                let customer = "customer-\(Int.random(in: 1...6, using: &random))"
                try await producer.send(topic: "transactions", event: Self.event(
                    source: "/demo/payments", type: "transaction.created", key: customer,
                    json: ["amount": amount, "merchant": "shop-\(Int.random(in: 1...9, using: &random))"]))
                try await Task.sleep(for: .seconds(1 / rate))
            }
        }
    }

    /// A sample event: a fresh id, the time now, a key and a JSON payload.
    static func event(source: String, type: String, key: String, json: [String: Any]) -> EventEnvelope {
        var event = EventEnvelope()
        event.id = UUID().uuidString.lowercased()
        event.specVersion = EventEnvelope.cloudEventsSpecVersion
        event.source = source
        event.type = type
        event.time = Google_Protobuf_Timestamp(date: Date())
        event.key = Data(key.utf8)
        event.dataContentType = "application/json"
        event.data = (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) ?? Data()
        return event
    }

    /// One line per verifier verdict.
    static func showTask(_ delivered: DeliveredRecord) {
        guard let envelope = try? EventEnvelope(serializedBytes: delivered.record.value ?? []),
              let object = try? JSONSerialization.jsonObject(with: envelope.data) as? [String: Any] else { return }
        let label = envelope.type == "task.verified" ? "✔ verified" : envelope.type == "task.requeued" ? "↻ re-queued (sloppy)" : "⚑ escalated"
        print("task \(object["task"] as? String ?? "?")  \(label)  after \(object["attempts"] as? Int ?? 0) worker attempt(s)")
    }

    /// One line per saga outcome or compensation.
    static func showOutcome(_ delivered: DeliveredRecord) {
        guard let envelope = try? EventEnvelope(serializedBytes: delivered.record.value ?? []),
              let object = try? JSONSerialization.jsonObject(with: envelope.data) as? [String: String] else { return }
        let label = envelope.type == "document.completed" ? "✔ completed" : envelope.type == "document.failed" ? "✘ failed" : "↩ compensated"
        print("saga \(object["document"] ?? "?")  \(label)  \(object["detail"] ?? "")")
    }

    /// One line per commit status: the SHA, the verdict and each check's.
    static func showStatus(_ delivered: DeliveredRecord) {
        guard let envelope = try? EventEnvelope(serializedBytes: delivered.record.value ?? []),
              let object = try? JSONSerialization.jsonObject(with: envelope.data) as? [String: Any] else { return }
        let checks = (object["checks"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        let status = object["status"] as? String ?? "?"
        let verdict = status == "success" ? "✔ success" : status == "timed_out" ? "⌛ timed out" : "✘ failure"
        let missing = (object["missing"] as? [String]).map { ", missing " + $0.joined(separator: ", ") } ?? ""
        print("CI \(String((object["sha"] as? String ?? "?").prefix(8)))  \(verdict)  (\(checks.joined(separator: ", "))\(missing))")
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
