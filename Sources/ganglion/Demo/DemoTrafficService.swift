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
        let metadata = try await client.metadata(topics: ["fraud-detection.decisions"])
        let decisions = try PartitionStream(client: client, pubEndpoint: metadata.nodes[0].pubEndpoint, topic: "fraud-detection.decisions",
                                            partition: 0, from: metadata.topics[0].partitions[0].highWatermark)
        defer { decisions.close() }
        let viewer = Task {
            for try await delivered in decisions.records() { Self.show(delivered) }
        }
        defer { viewer.cancel() }
        let statusesMetadata = try await client.metadata(topics: ["ci.statuses"])
        let statuses = try PartitionStream(client: client, pubEndpoint: metadata.nodes[0].pubEndpoint, topic: "ci.statuses",
                                           partition: 0, from: statusesMetadata.topics[0].partitions[0].highWatermark)
        defer { statuses.close() }
        let statusViewer = Task {
            for try await delivered in statuses.records() { Self.showStatus(delivered) }
        }
        defer { statusViewer.cancel() }
        let outcomesMetadata = try await client.metadata(topics: ["docs.outcomes"])
        let outcomes = try PartitionStream(client: client, pubEndpoint: metadata.nodes[0].pubEndpoint, topic: "docs.outcomes",
                                           partition: 0, from: outcomesMetadata.topics[0].partitions[0].highWatermark)
        defer { outcomes.close() }
        let outcomeViewer = Task {
            for try await delivered in outcomes.records() { Self.showOutcome(delivered) }
        }
        defer { outcomeViewer.cancel() }
        let verifiedMetadata = try await client.metadata(topics: ["tasks.verified"])
        let verified = try PartitionStream(client: client, pubEndpoint: metadata.nodes[0].pubEndpoint, topic: "tasks.verified",
                                           partition: 0, from: verifiedMetadata.topics[0].partitions[0].highWatermark)
        defer { verified.close() }
        let verifiedViewer = Task {
            for try await delivered in verified.records() { Self.showTask(delivered) }
        }
        defer { verifiedViewer.cancel() }
        let producer = try await Producer(client: client)
        let started = ContinuousClock.now
        let seconds = self.seconds, rate = self.rate
        try await cancelWhenGracefulShutdown {
            var random = SystemRandomNumberGenerator()
            var lastPush = ContinuousClock.now - .seconds(2)
            var lastDocument = ContinuousClock.now - .seconds(3)
            var documents = 0
            var tasks = 0
            var lastTask = ContinuousClock.now - .seconds(2)
            let kinds = ["plain", "hangs", "plain", "flaky", "sloppy", "plain"]
            let names = ["invoice", "contract", "corrupt-scan", "receipt", "unroutable-memo", "statement"]
            let messages = ["Fix flaky retry test", "WIP: new scoring model", "Bump dependencies", "Add audit trail", "break: refactor ledger",
                            "Rotate secret in config", "Improve docs"]
            while seconds.map({ ContinuousClock.now - started < .seconds($0) }) ?? true {
                if ContinuousClock.now - lastTask >= .seconds(2) {
                    lastTask = .now
                    tasks += 1
                    var task = EventEnvelope()
                    task.id = UUID().uuidString.lowercased()
                    task.specVersion = EventEnvelope.cloudEventsSpecVersion
                    task.source = "/demo/queue"
                    task.type = "task.submitted"
                    task.key = Data("task-\(tasks)".utf8)
                    task.dataContentType = "application/json"
                    let kind = kinds[(tasks - 1) % kinds.count]
                    task.data = (try? JSONSerialization.data(withJSONObject: ["task": "task-\(tasks)", "kind": kind])) ?? Data()
                    try await producer.send(topic: "tasks", event: task)
                    print("task task-\(tasks) (\(kind)) queued")
                }
                if ContinuousClock.now - lastDocument >= .seconds(3) {
                    lastDocument = .now
                    documents += 1
                    let name = "\(names[(documents - 1) % names.count])-\(documents)"
                    var received = EventEnvelope()
                    received.id = UUID().uuidString.lowercased()
                    received.specVersion = EventEnvelope.cloudEventsSpecVersion
                    received.source = "/demo/inbox"
                    received.type = "document.received"
                    received.key = Data("doc-\(documents)".utf8)
                    received.dataContentType = "application/json"
                    received.data = (try? JSONSerialization.data(withJSONObject: ["name": name])) ?? Data()
                    try await producer.send(topic: "docs.events", event: received)
                    print("document doc-\(documents) \"\(name)\" received")
                }
                if ContinuousClock.now - lastPush >= .seconds(2) {
                    lastPush = .now
                    let sha = String(UInt64.random(in: 0...UInt64.max, using: &random), radix: 16)
                    var push = EventEnvelope()
                    push.id = UUID().uuidString.lowercased()
                    push.specVersion = EventEnvelope.cloudEventsSpecVersion
                    push.source = "/demo/git"
                    push.type = "push"
                    push.key = Data(sha.utf8)
                    push.correlationID = sha
                    push.dataContentType = "application/json"
                    let message = messages[Int.random(in: 0..<messages.count, using: &random)]
                    push.data = (try? JSONSerialization.data(withJSONObject: ["sha": sha, "message": message])) ?? Data()
                    try await producer.send(topic: "ci.pushes", event: push)
                    print("push \(sha.prefix(8))  \"\(message)\"")
                }
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
        print("CI \(String((object["sha"] as? String ?? "?").prefix(8)))  \(status == "success" ? "✔ success" : "✘ failure")  (\(checks.joined(separator: ", ")))")
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
