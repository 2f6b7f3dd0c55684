import ClusterCore
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// `ganglion node` with its demo agents, killed with SIGKILL while the fraud agent works and
/// restarted: every transaction is decided exactly once by id, each customer's count runs 1…N
/// without a gap or a repeat (no state change lost or applied twice), and emitted events keep
/// their ids across the crash. With one hot key the kill lands while several of the key's
/// changelog batches are queued or in flight (its events pipelined through the changelog).
final class DemoProcessTests: XCTestCase {
    private var directory = ""
    private var node: Process?

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-demo-" + UUID().uuidString }
    override func tearDown() {
        if let node, node.isRunning { node.terminate(); node.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func transactions(_ range: Range<Int>, customers: Int = 7) -> [EventEnvelope] {
        range.map { index in
            var event = EventEnvelope()
            event.id = "txn-\(index)"
            event.type = "transaction.created"
            event.key = Data("cust-\(index % customers)".utf8)
            event.data = Data("{\"amount\":\(index % 11 == 0 ? 90_000 : 1_000 + index)}".utf8)
            return event
        }
    }

    private func all(_ client: GanglionClient, _ topic: String) async throws -> [EventEnvelope] {
        try await storedEvents(client, topic)
    }

    func testTheFraudAgentDecidesEachTransactionOnceAcrossSIGKILL() async throws {
        try await decideOnceAcrossSIGKILL(customers: 7, before: 400, pause: .milliseconds(150))
    }

    /// One hot key: its events run one after another, each starting once the previous one's
    /// changelog batch is queued (not yet durable), so the kill lands with several of the key's
    /// batches queued or in flight; none may be lost or applied twice.
    func testAHotKeyIsDecidedOnceAcrossSIGKILL() async throws {
        try await decideOnceAcrossSIGKILL(customers: 1, before: 1500, pause: .milliseconds(40))
    }

    /// Publishes `before` transactions over `customers` keys, kills the node `pause` later,
    /// restarts it, publishes 100 more, and checks every transaction was decided exactly once.
    private func decideOnceAcrossSIGKILL(customers: Int, before: Int, pause: Duration) async throws {
        var (process, api) = try startNodeProcess(directory, test: self, demo: true)
        node = process
        var client = try GanglionClient(endpoint: api, timeout: .seconds(5))
        // Wait for the demo's topics, then publish while the agent works, and kill the node.
        for _ in 0..<250 where try await client.metadata(topics: ["transactions"]).topics.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        for chunk in stride(from: 0, to: before, by: 50) { _ = try await client.publish(topic: "transactions", events: transactions(chunk..<(chunk + 50), customers: customers)) }
        try await Task.sleep(for: pause)
        let decidedBeforeKill = Set(try await all(client, "fraud-detection.decisions").map(\.id)).count
        kill(process.processIdentifier, SIGKILL)
        print("decided before the kill (read just before it): \(decidedBeforeKill) of \(before)")
        process.waitUntilExit()
        client.close()

        (process, api) = try startNodeProcess(directory, test: self, demo: true)
        node = process
        client = try GanglionClient(endpoint: api, timeout: .seconds(5))
        defer { client.close() }
        let total = before + 100
        _ = try await client.publish(topic: "transactions", events: transactions(before..<total, customers: customers))
        // Done when the group has consumed everything and the decisions stop growing.
        var decisions: [EventEnvelope] = []
        for _ in 0..<600 {
            let lag = try await client.describeGroup("fraud-detection").lag
            decisions = try await all(client, "fraud-detection.decisions")
            if !lag.isEmpty, lag.allSatisfy({ $0.lag == 0 }), Set(decisions.map(\.id)).count >= total { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        var byID: [String: Data] = [:]
        for decision in decisions {
            if let earlier = byID[decision.id] { XCTAssertEqual(earlier, decision.data, "\(decision.id) resent with other content") }
            byID[decision.id] = decision.data
        }
        // One decision per transaction: its id derives from the transaction's (emit index 1 after an alert).
        var decided: [String] = []
        var counts: [String: [Int]] = [:]
        for (id, decision) in byID {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: decision) as? [String: String])
            let input = try XCTUnwrap(object["input_event"])
            XCTAssertTrue(id.hasPrefix(input + "/fraud-detection/emit-"), "\(id) derives from \(input)")
            decided.append(input)
            let event = input.dropFirst("txn-".count)
            counts["cust-\(Int(event)! % customers)", default: []].append(Int(try XCTUnwrap(object["input.count"]))!)
        }
        XCTAssertEqual(decided.sorted(), (0..<total).map { "txn-\($0)" }.sorted(), "one decision per transaction")
        // Each customer's count runs 1…N: no state change lost or applied twice.
        for (customer, seen) in counts {
            let repeated = Dictionary(grouping: seen, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            let missing = Set(1...seen.count).subtracting(seen).sorted()
            XCTAssertTrue(repeated.isEmpty && missing.isEmpty,
                          "\(customer)'s counts: \(repeated.count) repeated (first \(repeated.prefix(8))), \(missing.count) missing (first \(missing.prefix(8)))")
        }
        let alerts = try await all(client, "alerts")
        XCTAssertFalse(alerts.isEmpty)
        XCTAssertEqual(Set(alerts.map(\.id)).count, Set(alerts.map(\.causationID)).count, "one alert id per transaction")
    }

    func testTheDemoCommandShowsDecisionsAndStops() throws {
        let (status, text) = try runProcess(try ganglionExecutable(self), ["demo", "--data-dir", directory, "--api", "tcp://127.0.0.1:0",
                                                                           "--pub", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0", "--rate", "50", "--seconds", "3"])
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(text.contains(" pass ") || text.contains("ALERT"), text)
        XCTAssertTrue(text.contains("customer-"), text)
        // The CI pipeline: a push, three checks in parallel, their join into the commit's status.
        XCTAssertTrue(text.contains("push ") && (text.contains("✔ success") || text.contains("✘ failure")), text)
    }

    /// Ctrl-C stops `ganglion demo` (as the README and the demo's banner say), and so does
    /// SIGTERM: the process exits within the node's 10 s shutdown bound, with status 0.
    func testCtrlCStopsTheDemo() throws {
        try stopsTheDemo(with: SIGINT)
    }

    func testSIGTERMStopsTheDemo() throws {
        try stopsTheDemo(with: SIGTERM)
    }

    private func stopsTheDemo(with signal: Int32) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let outputPath = directory + "/demo-output.txt"
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = try ganglionExecutable(self)
        process.arguments = ["demo", "--data-dir", directory + "/data", "--api", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0",
                             "--http", "127.0.0.1:0", "--rate", "50"]
        process.standardOutput = output
        process.standardError = output
        try process.run()
        node = process
        func text() -> String { String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self) }
        // Once the live view shows decisions and the CI pipeline's statuses, every service is busy.
        let shown = Date(timeIntervalSinceNow: 60)
        while Date() < shown && !(text().contains("customer-") && text().contains("CI ")) { usleep(100_000) }
        XCTAssertTrue(text().contains("customer-"), text())
        kill(process.processIdentifier, signal)
        let deadline = Date(timeIntervalSinceNow: 25)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        XCTAssertFalse(process.isRunning, "ganglion demo still runs 25 s after signal \(signal); its output ends: \(text().suffix(600))")
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        XCTAssertEqual(process.terminationStatus, 0, String(text().suffix(600)))
    }

    func testAReplayWithAnotherThresholdShowsWhichDecisionsWouldChange() async throws {
        let (process, api) = try startNodeProcess(directory, test: self, demo: true)
        node = process
        let client = try GanglionClient(endpoint: api, timeout: .seconds(5))
        defer { client.close() }
        for _ in 0..<250 where try await client.metadata(topics: ["transactions"]).topics.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        _ = try await client.publish(topic: "transactions", events: transactions(0..<120))
        for _ in 0..<300 {
            let lag = try await client.describeGroup("fraud-detection").lag
            if !lag.isEmpty, lag.allSatisfy({ $0.lag == 0 }), try await all(client, "fraud-detection.decisions").count >= 120 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let (status, text) = try runProcess(try ganglionExecutable(self), ["demo", "replay", "--threshold", "20000", "--node", api])
        XCTAssertEqual(status, 0, text)
        // The 90 000 transactions were alerts at threshold 1000 (above 5 × 1000) and pass at 20 000;
        // the others no longer reach the agent.
        XCTAssertTrue(text.contains("replayed 120 recorded decision(s) with threshold 20000"), text)
        XCTAssertTrue(text.contains("alert → pass"), text)
        XCTAssertTrue(text.contains("109 no longer reach the agent"), text)
        let shadowTopics = try await client.metadata().topics.filter { $0.name.contains("shadow") }
        XCTAssertTrue(shadowTopics.isEmpty, "the replay removes its shadow topics: \(shadowTopics.map(\.name))")
    }

    func testAskingTheFraudAgentFromTheCLIAndOverHTTP() async throws {
        let (process, api) = try startNodeProcess(directory, test: self, demo: true)
        node = process
        let client = try GanglionClient(endpoint: api, timeout: .seconds(5))
        defer { client.close() }
        try await waitForMembers(client, group: "fraud-detection")
        // Ten transactions per customer; the asks come after them in each key's order.
        _ = try await client.publish(topic: "transactions", events: transactions(0..<70))
        let executable = try ganglionExecutable(self)
        let (status, text) = try runProcess(executable, ["ask", "fraud-detection", "cust-0", "--node", api, "--timeout", "10000"])
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(text.contains("\"customer\":\"cust-0\"") && text.contains("\"transactions\":10"), text)
        XCTAssertTrue(text.contains("\"risk\":\"none\""), "cust-0's risk opened at the 90 000 transaction and closed after five quiet ones: \(text)")
        let closed = try runProcess(executable, ["ask", "fraud-detection", "cust-0", "--type", "risk.close", "--node", api])
        XCTAssertTrue(closed.output.contains("\"risk\":\"none\""), closed.output)

        let http = try await httpEndpoint(directory)
        let curl = URL(fileURLWithPath: "/usr/bin/curl")
        let answer = try runProcess(curl, ["-s", "--max-time", "15", "-X", "POST", "-H", "Content-Type: application/json", "-d", "{}",
                                           http + "/v1/agents/fraud-detection/cust-3?timeout_ms=10000"])
        XCTAssertTrue(answer.output.contains("\"customer\":\"cust-3\"") && answer.output.contains("\"transactions\":10"), answer.output)
        let unknown = try runProcess(curl, ["-s", "--max-time", "5", "-X", "POST", "-w", " %{http_code}", http + "/v1/agents/nobody/x"])
        XCTAssertTrue(unknown.output.hasSuffix(" 404") && unknown.output.contains("no agent named nobody"), unknown.output)
        let badTimeout = try runProcess(curl, ["-s", "--max-time", "5", "-X", "POST", "-w", " %{http_code}", http + "/v1/agents/fraud-detection/x?timeout_ms=soon"])
        XCTAssertTrue(badTimeout.output.hasSuffix(" 400") && badTimeout.output.contains("timeout_ms"), badTimeout.output)
        let missing = try runProcess(executable, ["ask", "nobody", "x", "--node", api])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("no agent named nobody"), missing.output)
    }

    func testSIGTERMShutsDownGracefullyWithOffsetsCommitted() async throws {
        var (process, api) = try startNodeProcess(directory, test: self, demo: true)
        node = process
        var client = try GanglionClient(endpoint: api, timeout: .seconds(5))
        try await waitForMembers(client, group: "fraud-detection")
        _ = try await client.publish(topic: "transactions", events: transactions(0..<100))
        for _ in 0..<300 where Set(try await all(client, "fraud-detection.decisions").map(\.id)).count < 100 { try await Task.sleep(for: .milliseconds(20)) }
        let stopping = Date()
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0, "a clean exit")
        XCTAssertLessThan(Date().timeIntervalSince(stopping), 10, "within the shutdown bound")
        client.close()

        // Restarted: the group's offsets were committed at shutdown (nothing to redo), the log is whole.
        (process, api) = try startNodeProcess(directory, test: self, demo: false)
        node = process
        client = try GanglionClient(endpoint: api, timeout: .seconds(5))
        defer { client.close() }
        let lag = try await client.describeGroup("fraud-detection").lag
        XCTAssertEqual(lag.reduce(Int64(0)) { $0 + $1.committedOffset }, 100, "every handled transaction committed: \(lag)")
        XCTAssertTrue(lag.allSatisfy { $0.lag == 0 })
        let stored = try await all(client, "transactions")
        XCTAssertEqual(stored.count, 100)
    }
}
