import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Counts ticks per key and answers asks with the count; a `fail` ask always fails.
private struct CounterAgent: Agent {
    struct State: Codable, Sendable {
        var count = 0
        var asked = 0
    }

    let name = "counter"
    let subscription = try! AgentSubscription(topic: "ticks", types: ["tick"])
    let retryPolicy = RetryPolicy(maxAttempts: 2, initialBackoffMilliseconds: 5, maxBackoffMilliseconds: 10, attemptDeadlineMilliseconds: 2000)

    func handle(_ context: AgentContext<State>) async throws {
        var state = context.state ?? State()
        if context.isAsk {
            if context.event.type == "fail" { throw AskTestFailure() }
            state.asked += 1
            context.state = state
            context.reply(Data("{\"asked\":\(state.asked),\"count\":\(state.count)}".utf8))
            return
        }
        state.count += 1
        context.state = state
    }
}

/// For each audit event, asks the counter about the event's key and emits what it answered.
private struct AuditorAgent: Agent {
    struct State: Codable, Sendable {}
    let name = "auditor"
    let subscription = try! AgentSubscription(topic: "audits")

    func handle(_ context: AgentContext<State>) async throws {
        let reply = try await context.ask(agent: "counter", key: context.key)
        context.emit(topic: "audit-results", type: "audit.done", data: reply.data)
    }
}

private struct AskTestFailure: Error, CustomStringConvertible {
    var description: String { "the failing request failed" }
}

/// `ask` (DESIGN §4): routed through the key's partition to the shard that owns it, answered in
/// order with the key's events, once per request id, from the Swift client and from another
/// agent, and during a rebalance.
final class AgentAskTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-ask-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func ticks(_ counts: [String: Int]) -> [EventEnvelope] {
        counts.sorted { $0.key < $1.key }.flatMap { key, count in
            (0..<count).map { index in
                var event = EventEnvelope()
                event.id = "tick-\(key)-\(index)"
                event.type = "tick"
                event.key = Data(key.utf8)
                return event
            }
        }
    }

    private static func answer(_ reply: AskReply) throws -> [String: Int] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: reply.data) as? [String: Int])
    }

    func testAsksAreAnsweredInOrderWithTheKeysEventsOncePerID() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("ticks", partitions: 4)
        try await client.createTopic("audits", partitions: 1)
        try await client.createTopic("audit-results", partitions: 1)

        // No agent named so: refused at once.
        do {
            _ = try await client.ask(agent: "nobody", key: "k")
            XCTFail("an ask to an unknown agent is refused")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .unknownGroup, "\(error)")
        }

        _ = try await client.publish(topic: "ticks", events: ticks(["k1": 10, "k2": 3]))
        let host = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(CounterAgent()) }
        defer { host.cancel() }
        // The group exists once the host joined; asks right after the ticks see every tick.
        try await waitForMembers(client, group: "counter")
        let first = try await client.ask(agent: "counter", key: "k1")
        XCTAssertEqual(try Self.answer(first), ["asked": 1, "count": 10], "the ask is handled after the key's earlier events")
        XCTAssertEqual(first.event.type, AgentAsk.replyType)
        let second = try await client.ask(agent: "counter", key: "k2")
        XCTAssertEqual(try Self.answer(second), ["asked": 1, "count": 3])

        // The same request id twice: handled once, its recorded reply sent again.
        let once = try await client.ask(agent: "counter", key: "k1", id: "ask-once")
        let again = try await client.ask(agent: "counter", key: "k1", id: "ask-once")
        XCTAssertEqual(try Self.answer(once), ["asked": 2, "count": 10])
        XCTAssertEqual(once.data, again.data)
        XCTAssertEqual(once.event.id, again.event.id)
        let third = try await client.ask(agent: "counter", key: "k1")
        XCTAssertEqual(try Self.answer(third), ["asked": 3, "count": 10])

        // A request that fails every attempt: refused with the handler's error.
        // Asked again with the same id, it is refused again (not answered with the error as data).
        for _ in 0..<2 {
            do {
                _ = try await client.ask(agent: "counter", key: "k1", type: "fail", id: "fails")
                XCTFail("a failing request is refused")
            } catch let refused as AskRefused {
                XCTAssertTrue(refused.error.contains("the failing request failed"), refused.error)
            }
        }

        // One agent asking another.
        let auditor = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(AuditorAgent()) }
        defer { auditor.cancel() }
        var audit = EventEnvelope()
        audit.id = "audit-1"
        audit.type = "audit"
        audit.key = Data("k2".utf8)
        _ = try await client.publish(topic: "audits", events: [audit])
        var results: [EventEnvelope] = []
        for _ in 0..<250 {
            results = try await storedEvents(client, "audit-results")
            if !results.isEmpty { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(results.map { String(decoding: $0.data, as: UTF8.self) }, ["{\"asked\":2,\"count\":3}"])

        // No shard running: the ask times out, and is still handled once a host runs again.
        host.cancel()
        _ = await host.result
        for _ in 0..<250 where !(try await client.describeGroup("counter").members.isEmpty) { try await Task.sleep(for: .milliseconds(20)) }
        do {
            _ = try await client.ask(agent: "counter", key: "k2", timeout: .milliseconds(300), id: "late")
            XCTFail("an ask nobody handles times out")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .timeout, "\(error)")
        }
        let restarted = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(CounterAgent()) }
        defer { restarted.cancel() }
        let afterRestart = try await client.ask(agent: "counter", key: "k2", timeout: .seconds(10))
        XCTAssertEqual(try Self.answer(afterRestart), ["asked": 4, "count": 3],
                       "the timed-out ask was handled too, before this one")
    }

    func testAsksDuringARebalanceAreEachHandledOnce() async throws {
        let node = try startTestNode(directory) { $0.groupSessionTimeout = 1000 }
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("ticks", partitions: 4)
        let keys = (0..<24).map { "key-\($0)" }
        _ = try await client.publish(topic: "ticks", events: ticks(Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0 % 5 + 1) })))
        let first = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(CounterAgent()) }
        defer { first.cancel() }
        try await waitForMembers(client, group: "counter")

        // A second host joins while the asks are in flight: partitions move under them.
        let second = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(CounterAgent()) }
        defer { second.cancel() }
        let answers = try await withThrowingTaskGroup(of: (String, [String: Int]).self) { group in
            for key in keys {
                group.addTask { (key, try Self.answer(try await client.ask(agent: "counter", key: key, timeout: .seconds(15), id: "r-\(key)"))) }
            }
            return try await group.reduce(into: [String: [String: Int]]()) { $0[$1.0] = $1.1 }
        }
        for (index, key) in keys.enumerated() {
            XCTAssertEqual(answers[key], ["asked": 1, "count": index % 5 + 1], key)
        }
        let members = try await client.describeGroup("counter").members
        XCTAssertEqual(members.count, 2, "both hosts are members")
        // Asked once more each: the count of asks handled is 2, so none was handled twice.
        for (index, key) in keys.enumerated() {
            let reply = try await client.ask(agent: "counter", key: key, timeout: .seconds(15))
            XCTAssertEqual(try Self.answer(reply), ["asked": 2, "count": index % 5 + 1], key)
        }
    }
}
