import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import ServiceLifecycle
import XCTest

/// Greets each visitor and counts visits; answers asks with the count.
private struct GreeterAgent: Agent {
    struct State: Codable, Sendable { var visits = 0 }
    let name = "greeter"
    let subscription = try! AgentSubscription(topic: "visits")

    func handle(_ context: AgentContext<State>) async throws {
        if context.isAsk {
            context.reply(Data("{\"visits\":\(context.state?.visits ?? 0)}".utf8))
            return
        }
        let visits = (context.state?.visits ?? 0) + 1
        context.state = State(visits: visits)
        context.emit(topic: "greetings", type: "greeting", data: Data("hello \(context.key) #\(visits)".utf8))
    }
}

/// A user's own program: a node with its agent types in a few lines (``AgentNode``).
final class AgentNodeTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-agent-node-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// A user's program: a node on OS-chosen ports with its topics and the greeter.
    private func greeterNode() -> AgentNode {
        var configuration = NodeConfiguration()
        configuration.dataDirectory = directory
        configuration.apiEndpoint = "tcp://127.0.0.1:0"
        configuration.pubEndpoint = "tcp://127.0.0.1:0"
        var node = AgentNode(configuration: configuration)
        node.httpPort = 0
        node.createTopic("visits", partitions: 2)
        node.createTopic("greetings", partitions: 1)
        node.register(GreeterAgent())
        return node
    }

    func testANodeWithItsOwnAgentsInAFewLines() async throws {
        var node = greeterNode()
        node.shardsOnNodeLogs = true
        XCTAssertEqual(node.agentNames, ["greeter"])
        let running = Task { [node] in try await node.run(bootstrapObservability: false) }

        let http = try await httpEndpoint(directory)
        let endpoints = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/endpoints.json"))) as? [String: String])
        let client = try GanglionClient(endpoint: try XCTUnwrap(endpoints["api"]))
        defer { client.close() }
        try await waitForMembers(client, group: "greeter")
        var visit = EventEnvelope()
        visit.id = "visit-1"
        visit.type = "visit"
        visit.key = Data("ada".utf8)
        _ = try await client.publish(topic: "visits", events: [visit])
        var greetings: [EventEnvelope] = []
        for _ in 0..<250 where greetings.isEmpty {
            greetings = try await storedEvents(client, "greetings")
            if greetings.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        }
        XCTAssertEqual(greetings.map { String(decoding: $0.data, as: UTF8.self) }, ["hello ada #1"])
        let answer = try runProcess(URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "--max-time", "10", "-X", "POST", http + "/v1/agents/greeter/ada"])
        XCTAssertEqual(answer.output, "{\"visits\":1}")

        // Cancelled: a graceful shutdown, within a bound.
        let stopping = ContinuousClock.now
        running.cancel()
        _ = await running.result
        XCTAssertLessThan(ContinuousClock.now - stopping, .seconds(5))
    }

    /// A service of the node that fails makes the service group cancel every service at once:
    /// the node stops while its agents still drain, and `run` must still return promptly (it
    /// waited on the agents' requests to the stopped node, minutes with every demo agent).
    func testANodeWhoseServiceFailsStopsPromptly() async throws {
        /// Fails once the agent's host has joined its group and handled an event.
        struct Failing: Service {
            struct Failure: Error {}
            let api: String
            let failedAt: FailureMoment
            func run() async throws {
                let client = try GanglionClient(endpoint: api)
                defer { client.close() }
                try await waitForMembers(client, group: "greeter")
                var visit = EventEnvelope()
                visit.id = "visit-1"
                visit.type = "visit"
                visit.key = Data("ada".utf8)
                _ = try await client.publish(topic: "visits", events: [visit])
                for _ in 0..<250 where try await storedEvents(client, "greetings").isEmpty { try await Task.sleep(for: .milliseconds(20)) }
                failedAt.note()
                throw Failure()
            }
        }
        let node = greeterNode()
        let failedAt = FailureMoment()
        let running = Task { [node] in
            try await node.run(bootstrapObservability: false) { ganglion, _ in [Failing(api: ganglion.endpoints.api, failedAt: failedAt)] }
        }
        let result = await running.result
        let returned = ContinuousClock.now
        XCTAssertThrowsError(try result.get())
        let failed = try XCTUnwrap(failedAt.moment, "the service failed as planned")
        XCTAssertLessThan(returned - failed, .seconds(5), "run returned \(returned - failed) after the service failed")
    }

    func testAStoppedHostCommitsAndLeavesItsGroupAtOnce() async throws {
        let node = try startTestNode(directory) { $0.groupSessionTimeout = 30_000 }
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("visits", partitions: 2)
        try await client.createTopic("greetings", partitions: 1)
        let host = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(GreeterAgent()) }
        try await waitForMembers(client, group: "greeter")
        let visits = (0..<40).map { index in
            var visit = EventEnvelope()
            visit.id = "visit-\(index)"
            visit.type = "visit"
            visit.key = Data("visitor-\(index % 5)".utf8)
            return visit
        }
        _ = try await client.publish(topic: "visits", events: visits)
        for _ in 0..<250 where try await storedEvents(client, "greetings").count < 40 { try await Task.sleep(for: .milliseconds(20)) }
        host.cancel()
        _ = await host.result
        // Told, not timed out (the session is 30 s): no members, every handled event committed.
        let group = try await client.describeGroup("greeter")
        XCTAssertTrue(group.members.isEmpty, "the member left: \(group.members.map(\.memberID))")
        XCTAssertEqual(group.lag.reduce(Int64(0)) { $0 + $1.committedOffset }, 40, "every handled event committed")
    }
}

/// When a test's service failed.
private final class FailureMoment: @unchecked Sendable {
    private let lock = NSLock()
    private var at: ContinuousClock.Instant?
    var moment: ContinuousClock.Instant? { lock.withLock { at } }
    func note() { lock.withLock { at = .now } }
}
