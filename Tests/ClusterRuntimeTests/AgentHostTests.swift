import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Counts transactions per customer and raises an alert on every third large one; fails twice on
/// a flaky event and always on a poison one.
private struct FraudAgent: Agent {
    struct State: Codable, Sendable {
        var count = 0
        var total = 0.0
    }

    let name = "fraud"
    let subscription = try! AgentSubscription(topic: "payments", types: ["transaction.created"], filter: "amount > 100")
    let retryPolicy = RetryPolicy(maxAttempts: 3, initialBackoffMilliseconds: 5, maxBackoffMilliseconds: 20, attemptDeadlineMilliseconds: 2000)
    let flaky: FlakyCounter

    func handle(_ context: AgentContext<State>) async throws {
        if context.event.id == "poison" { throw TestFailure("poisoned") }
        if context.event.id == "flaky", await flaky.fail() { throw TestFailure("flaky") }
        let amount = (try? JSONSerialization.jsonObject(with: context.event.data) as? [String: Any])?["amount"] as? Double ?? 0
        var state = context.state ?? State()
        state.count += 1
        state.total += amount
        context.state = state
        if state.count % 3 == 0 {
            context.emit(topic: "alerts", type: "fraud.alert", data: Data("{\"customer\":\"\(context.key)\",\"count\":\(state.count)}".utf8))
        }
    }
}

private struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Fails the first two calls.
private actor FlakyCounter {
    private var calls = 0
    func fail() -> Bool {
        calls += 1
        return calls <= 2
    }
}

/// The agent runtime over a real node: filters, per-key state, emitted events with derived ids,
/// retries, dead letters, redeliveries recognised by id, and a host stopped and replaced by a new
/// one that rebuilds its shards' state from the changelog without doubling anything.
final class AgentHostTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-agents-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func transaction(_ id: String, customer: String, amount: Double, type: String = "transaction.created") -> EventEnvelope {
        var event = EventEnvelope()
        event.id = id
        event.type = type
        event.key = Data(customer.utf8)
        event.data = Data("{\"amount\":\(amount)}".utf8)
        event.correlationID = "corr-\(id)"
        return event
    }

    private func all(_ client: GanglionClient, _ topic: String) async throws -> [EventEnvelope] {
        try await storedEvents(client, topic)
    }

    private func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
        for _ in 0..<500 {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("timed out waiting for \(what)")
    }

    func testCreateTopicsMakesWhatTheAgentNeedsAndNamesAMissingSubscription() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        let host = AgentHost(client: try GanglionClient(endpoint: node.endpoints.api))
        do {
            try await host.createTopics(for: FraudAgent(flaky: FlakyCounter()))
            XCTFail("a subscription to a missing topic is refused")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .unknownTopic)
            XCTAssertTrue(error.message.contains("payments"), error.message)
        }
        try await client.createTopic("payments", partitions: 3)
        // Twice: the second call finds them and leaves them.
        for _ in 0..<2 { try await host.createTopics(for: FraudAgent(flaky: FlakyCounter())) }
        let topics = Dictionary(uniqueKeysWithValues: try await client.metadata().topics.map { ($0.name, $0.config) })
        XCTAssertEqual(topics["fraud.changelog.payments"]?.partitions, 3)
        XCTAssertEqual(topics["fraud.changelog.payments"]?.compacted, true)
        XCTAssertEqual(topics["fraud.dlq"]?.partitions, 1)
        XCTAssertEqual(topics["fraud.decisions"]?.partitions, 1)
        XCTAssertEqual(topics[AgentAsk.repliesTopic("fraud")]?.partitions, 3)
        // A shadow replay's topics are its own; it has no replies topic.
        try await host.createTopics(for: FraudAgent(flaky: FlakyCounter()), shadow: "v2")
        let names = Set(try await client.metadata().topics.map(\.name))
        XCTAssertTrue(names.isSuperset(of: [AgentHost.changelogTopic(AgentHost.shadowGroup("fraud", shadow: "v2"), topic: "payments"),
                                           AgentHost.shadowTopic("fraud.dlq", shadow: "v2"), AgentHost.shadowTopic("fraud.decisions", shadow: "v2")]), "\(names)")
    }

    func testAgentsHandleEachEventOnceAcrossAHostReplacement() async throws {
        let node = try startTestNode(directory) { $0.groupSessionTimeout = 1000 }
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("payments", partitions: 2)
        try await client.createTopic("alerts", partitions: 1)
        var events: [EventEnvelope] = []
        for index in 0..<30 { events.append(transaction("t-\(index)", customer: "c\(index % 3)", amount: 500)) }
        events.append(transaction("small", customer: "c0", amount: 5))                  // filtered: amount ≤ 100
        events.append(transaction("refund", customer: "c0", amount: 900, type: "refund")) // filtered: type
        events.append(transaction("flaky", customer: "c1", amount: 500))                 // fails twice, then counts
        events.append(transaction("poison", customer: "c2", amount: 500))                // dead letter after 3 attempts
        events.append(transaction("t-5", customer: "c2", amount: 500))                   // a redelivery: not counted again
        _ = try await client.publish(topic: "payments", events: events)

        let flaky = FlakyCounter()
        let first = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(FraudAgent(flaky: flaky)) }
        try await waitFor("the dead letter") { try await self.all(client, "fraud.dlq").count == 1 }
        try await waitFor("every event handled") {
            let lag = try await client.describeGroup("fraud").lag
            return lag.count == 2 && lag.allSatisfy { $0.lag == 0 }
        }
        first.cancel()
        _ = await first.result

        // More events, and a new host: it rebuilds the shards from the changelogs.
        var more: [EventEnvelope] = []
        for index in 30..<36 { more.append(transaction("t-\(index)", customer: "c\(index % 3)", amount: 500)) }
        _ = try await client.publish(topic: "payments", events: more)
        let second = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(FraudAgent(flaky: flaky)) }
        defer { second.cancel() }
        // c0 and c2 reach 12 counted events, c1 13 (with the flaky one): alerts at 3, 6, 9, 12 for each.
        try await waitFor("all alerts") { try await self.all(client, "alerts").count >= 12 }
        try await Task.sleep(for: .milliseconds(300))
        let alerts = try await all(client, "alerts")
        let ids = Set(alerts.map(\.id))
        XCTAssertEqual(ids.count, 12, "each alert once by id: \(alerts.map(\.id))")
        let counts = Dictionary(grouping: alerts, by: { String(decoding: $0.key, as: UTF8.self) }).mapValues { group in
            Set(group.map { String(decoding: $0.data, as: UTF8.self) }).count
        }
        XCTAssertEqual(counts, ["c0": 4, "c1": 4, "c2": 4])
        for alert in alerts {
            XCTAssertFalse(alert.causationID.isEmpty)
            XCTAssertEqual(alert.correlationID, "corr-" + alert.causationID)
            XCTAssertEqual(alert.id, EmittedEventID.derive(inputID: alert.causationID, agent: "fraud", index: 0))
        }
        let letters = try await all(client, "fraud.dlq")
        XCTAssertEqual(letters.count, 1)
        XCTAssertEqual(letters.first?.extensions["attempts"], "3")
        XCTAssertEqual(letters.first?.extensions["agent"], "fraud")
        XCTAssertTrue(letters.first?.extensions["error"]?.contains("poisoned") == true)

        // After a fix, the dead letter goes back to its topic as a new event naming the original.
        let listed = try runCLI(["dlq", "list", "fraud", "--node", node.endpoints.api])
        XCTAssertTrue(listed.contains("poison") && listed.contains("dead") && listed.contains("poisoned"), listed)
        let replayed = try runCLI(["dlq", "replay", "fraud", "--node", node.endpoints.api])
        XCTAssertTrue(replayed.contains("replayed poison to payments as poison/replay"), replayed)
        try await waitFor("the replayed event handled") {
            let lag = try await client.describeGroup("fraud").lag
            return lag.allSatisfy { $0.lag == 0 }
        }
        let again = try runCLI(["dlq", "list", "fraud", "--node", node.endpoints.api])
        XCTAssertTrue(again.contains("replayed"), again)
        let nothingLeft = try runCLI(["dlq", "replay", "fraud", "--node", node.endpoints.api])
        XCTAssertTrue(nothingLeft.contains("no dead letters wait"), nothingLeft)
        let lettersAfter = try await all(client, "fraud.dlq")
        XCTAssertEqual(lettersAfter.count, 1, "the replayed event was handled, not dead-lettered again")

        // A mistyped agent is an error naming it, not "no dead letters".
        for command in ["list", "replay"] {
            let (status, output) = try runProcess(try ganglionExecutable(self), ["dlq", command, "frud", "--node", node.endpoints.api])
            XCTAssertNotEqual(status, 0, "dlq \(command) of an agent that does not exist: \(output)")
            XCTAssertTrue(output.contains("no agent named frud") && output.contains("frud.dlq"), output)
        }
    }

    /// Runs the `ganglion` CLI; returns what it printed.
    private func runCLI(_ arguments: [String]) throws -> String {
        try runProcess(try ganglionExecutable(self), arguments).output
    }
}

/// Records handling per key: order, overlap within a key, and when each finished.
private actor HandlingLog {
    private(set) var order: [String: [Int64]] = [:]
    private var active: Set<String> = []
    private(set) var overlaps = 0
    private(set) var finishedAt: [String: ContinuousClock.Instant] = [:]

    func begin(_ key: String, _ offset: Int64) {
        if active.contains(key) { overlaps += 1 }
        active.insert(key)
        order[key, default: []].append(offset)
    }

    private(set) var ended = 0

    func end(_ key: String) {
        active.remove(key)
        finishedAt[key] = .now
        ended += 1
    }
}

/// One slow key among quick ones.
private struct SlowKeyAgent: Agent {
    struct State: Codable, Sendable { var seen = 0 }
    let name = "sorter"
    let subscription = try! AgentSubscription(topic: "work")
    let log: HandlingLog

    func handle(_ context: AgentContext<State>) async throws {
        await log.begin(context.key, context.offset)
        if context.key == "slow" { try await Task.sleep(for: .milliseconds(150)) }
        context.state = State(seen: (context.state?.seen ?? 0) + 1)
        await log.end(context.key)
    }
}

extension AgentHostTests {
    func testKeysRunConcurrentlyInOrderWithinABoundedShard() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("work", partitions: 1)
        var events: [EventEnvelope] = []
        for index in 0..<40 {
            var event = EventEnvelope()
            event.id = "w-\(index)"
            event.type = "work"
            event.key = Data((index % 10 == 0 ? "slow" : "k\(index % 5)").utf8)
            events.append(event)
        }
        _ = try await client.publish(topic: "work", events: events)
        let log = HandlingLog()
        let started = ContinuousClock.now
        let host = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api), shardCapacity: 8, maxConcurrentKeys: 4)
            .run(SlowKeyAgent(log: log)) }
        defer { host.cancel() }
        for _ in 0..<300 {
            if await log.ended == 40 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let order = await log.order
        XCTAssertEqual(order.values.reduce(0) { $0 + $1.count }, 40)
        for (key, offsets) in order { XCTAssertEqual(offsets, offsets.sorted(), "key \(key) in offset order") }
        let overlaps = await log.overlaps
        XCTAssertEqual(overlaps, 0, "one event per key at a time")
        // The quick keys did not wait for the slow one's four sleeps (4 × 150 ms).
        let finished = await log.finishedAt
        let quickDone = ["k1", "k2", "k3", "k4"].compactMap { finished[$0] }.max()
        let slowDone = finished["slow"]
        XCTAssertNotNil(quickDone)
        if let quickDone, let slowDone { XCTAssertLessThan(quickDone, slowDone) }
        XCTAssertGreaterThan(ContinuousClock.now - started, .milliseconds(550), "the slow key's events ran one after another")
    }
}

/// Counts events per key and emits the count with every event.
private struct CountingAgent: Agent {
    struct State: Codable, Sendable { var count = 0 }
    let name = "counter"
    let subscription = try! AgentSubscription(topic: "clicks")

    func handle(_ context: AgentContext<State>) async throws {
        let count = (context.state?.count ?? 0) + 1
        context.state = State(count: count)
        try await Task.sleep(for: .milliseconds(2))
        context.emit(topic: "counted", type: "counted", data: Data("\(context.key):\(count)".utf8))
    }
}

extension AgentHostTests {
    func testShardsMoveBetweenHostsWithoutLosingOrDoublingState() async throws {
        let node = try startTestNode(directory) { $0.groupSessionTimeout = 3000 }
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("clicks", partitions: 4)
        try await client.createTopic("counted", partitions: 1)
        func publish(_ range: Range<Int>) async throws {
            var events: [EventEnvelope] = []
            for index in range {
                var event = EventEnvelope()
                event.id = "click-\(index)"
                event.type = "click"
                event.key = Data("user-\(index % 10)".utf8)
                events.append(event)
            }
            _ = try await client.publish(topic: "clicks", events: events)
        }
        try await publish(0..<100)
        let first = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(CountingAgent()) }
        try await Task.sleep(for: .milliseconds(100))
        // A second host joins mid-stream: shards move, drained first, rebuilt from the changelog.
        let second = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(CountingAgent()) }
        try await publish(100..<200)
        try await Task.sleep(for: .milliseconds(300))
        first.cancel()  // its shards move again, to the second host
        try await publish(200..<300)
        defer { second.cancel() }
        var byID: [String: String] = [:]
        for _ in 0..<500 {
            byID = [:]
            for event in try await all(client, "counted") {
                let text = String(decoding: event.data, as: UTF8.self)
                if let earlier = byID[event.id] { XCTAssertEqual(earlier, text, "\(event.id) resent with other content") }
                byID[event.id] = text
            }
            if byID.count >= 300 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(byID.count, 300, "one counted event per click")
        var counts: [String: [Int]] = [:]
        for text in byID.values {
            let parts = text.split(separator: ":")
            counts[String(parts[0]), default: []].append(Int(parts[1])!)
        }
        for (user, seen) in counts { XCTAssertEqual(seen.sorted(), Array(1...30), "\(user): every count once") }
    }
}

/// Hangs on its first attempt; the deadline cancels it and the retry finishes.
private struct HangingAgent: Agent {
    struct State: Codable, Sendable { var attempts: [Int] = [] }
    let name = "hanging"
    let subscription = try! AgentSubscription(topic: "jobs")
    let retryPolicy = RetryPolicy(maxAttempts: 3, initialBackoffMilliseconds: 1, maxBackoffMilliseconds: 5, attemptDeadlineMilliseconds: 200)

    func handle(_ context: AgentContext<State>) async throws {
        if context.attempt == 1 { try await Task.sleep(for: .seconds(30)) }
        context.state = State(attempts: (context.state?.attempts ?? []) + [context.attempt])
        context.emit(topic: "done", type: "job.done", data: Data("attempt \(context.attempt)".utf8))
    }
}

extension AgentHostTests {
    func testAHungAttemptIsCancelledAtItsDeadlineAndRetried() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("jobs", partitions: 1)
        try await client.createTopic("done", partitions: 1)
        var job = EventEnvelope()
        job.id = "job-1"
        job.key = Data("j".utf8)
        _ = try await client.publish(topic: "jobs", events: [job])
        let started = ContinuousClock.now
        let host = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(HangingAgent()) }
        defer { host.cancel() }
        var done: [EventEnvelope] = []
        for _ in 0..<200 where done.isEmpty {
            done = try await all(client, "done")
            if done.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        }
        XCTAssertEqual(done.map { String(decoding: $0.data, as: UTF8.self) }, ["attempt 2"])
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5), "the hung attempt was cancelled at 200 ms, not waited out")
    }
}

/// Counts slowly, so a node can go away while handlers run.
private struct SlowCountingAgent: Agent {
    struct State: Codable, Sendable { var count = 0 }
    let name = "slow-counter"
    let subscription = try! AgentSubscription(topic: "orders")

    func handle(_ context: AgentContext<State>) async throws {
        try await Task.sleep(for: .milliseconds(30))
        let count = (context.state?.count ?? 0) + 1
        context.state = State(count: count)
        context.emit(topic: "order-counts", type: "counted", data: Data("\(context.key):\(count)".utf8))
    }
}

extension AgentHostTests {
    func testANodeOutageMidHandlerLosesNothingAndDoublesNothing() async throws {
        var node = try startTestNode(directory)
        let api = node.endpoints.api, pub = node.endpoints.pub
        var client = try GanglionClient(endpoint: api, timeout: .seconds(2))
        try await client.createTopic("orders", partitions: 2)
        try await client.createTopic("order-counts", partitions: 1)
        var events: [EventEnvelope] = []
        for index in 0..<120 {
            var event = EventEnvelope()
            event.id = "order-\(index)"
            event.key = Data("shop-\(index % 6)".utf8)
            events.append(event)
        }
        _ = try await client.publish(topic: "orders", events: events)
        let first = Task { try await AgentHost(client: try GanglionClient(endpoint: api, timeout: .seconds(1))).run(SlowCountingAgent()) }
        try await Task.sleep(for: .milliseconds(250))
        // The node goes away while handlers run: their changelog appends fail, the host stops.
        client.close()
        node.stop()
        // The host stops on its own (a shard cannot write its changelog once its resends for 10 s
        // failed); cancelled after 20 s otherwise.
        let stopper = Task {
            try? await Task.sleep(for: .seconds(20))
            first.cancel()
        }
        let outcome = await first.result
        stopper.cancel()
        if case .success = outcome { XCTFail("the host should stop with the shard's failure") }
        node = try startTestNode(directory) { $0.apiEndpoint = api; $0.pubEndpoint = pub }
        defer { node.stop() }
        client = try GanglionClient(endpoint: api)
        defer { client.close() }
        let second = Task { try await AgentHost(client: try GanglionClient(endpoint: api)).run(SlowCountingAgent()) }
        defer { second.cancel() }
        var byID: [String: String] = [:]
        for _ in 0..<500 {
            byID = [:]
            for event in try await all(client, "order-counts") { byID[event.id] = String(decoding: event.data, as: UTF8.self) }
            if byID.count >= 120 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        var counts: [String: [Int]] = [:]
        for text in byID.values {
            let parts = text.split(separator: ":")
            counts[String(parts[0]), default: []].append(Int(parts[1])!)
        }
        XCTAssertEqual(byID.count, 120, "every order counted once by id")
        for (shop, seen) in counts { XCTAssertEqual(seen.sorted(), Array(1...20), "\(shop): every count once") }
    }
}
