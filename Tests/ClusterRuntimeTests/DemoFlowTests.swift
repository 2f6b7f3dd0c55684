import ClusterCore
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// The demo flows end to end in a real `ganglion node` process with its demo agents, each with
/// asserted outcomes: the CI pipeline (join by SHA, with its timeout), the document saga (with
/// compensations newest first) and the task queue with verifier (retries under the deadline
/// policy, re-queue and escalation, and a node SIGKILLed mid-task: every task done once).
final class DemoFlowTests: XCTestCase {
    private var directory = ""
    private var node: Process?

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-flows-" + UUID().uuidString }
    override func tearDown() {
        if let node, node.isRunning { node.terminate(); node.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func event(_ type: String, key: String, _ json: [String: Any]) throws -> EventEnvelope {
        var event = EventEnvelope()
        event.id = "\(type)-\(key)"
        event.type = type
        event.key = Data(key.utf8)
        event.correlationID = key
        event.data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        return event
    }

    /// Starts the demo node and waits until `agent`'s group has joined.
    private func startDemoNode(waitingFor agents: [String]) async throws -> GanglionClient {
        let (process, api) = try startNodeProcess(directory, test: self, demo: true)
        node = process
        let client = try GanglionClient(endpoint: api, timeout: .seconds(5))
        for agent in agents {
            try await waitForMembers(client, group: agent)
        }
        return client
    }

    /// The JSON payloads of `topic`'s events (distinct ids), with their types, once `done` holds.
    private func payloads(_ client: GanglionClient, _ topic: String, seconds: Int = 20,
                          until done: ([(type: String, body: [String: Any])]) -> Bool) async throws -> [(type: String, body: [String: Any])] {
        var result: [(type: String, body: [String: Any])] = []
        for _ in 0..<(seconds * 20) {
            var seen = Set<String>()
            result = try await storedEvents(client, topic).compactMap { event in
                guard seen.insert(event.id).inserted else { return nil }
                return (event.type, (try? JSONSerialization.jsonObject(with: event.data) as? [String: Any]) ?? [:])
            }
            if done(result) { return result }
            try await Task.sleep(for: .milliseconds(50))
        }
        return result
    }

    func testTheCIPipelineJoinsThreeChecksBySHAOrTimesOut() async throws {
        let client = try await startDemoNode(waitingFor: ["ci-tests", "ci-security", "ci-lint", "ci-aggregator"])
        defer { client.close() }
        let pushes = ["a1": "Fix retry test", "b2": "WIP: scoring", "c3": "Retry on a slow runner", "d4": "Rotate secret in config"]
        _ = try await client.publish(topic: "ci.pushes", events: try pushes.map { try event("push", key: $0.key, ["sha": $0.key, "message": $0.value]) })
        var statuses = try await payloads(client, "ci.statuses") { $0.count >= 4 }
        // The slow runner's tests report after the timeout: ignored, no second status.
        try await Task.sleep(for: .seconds(3))
        statuses = try await payloads(client, "ci.statuses") { _ in true }
        let bySHA = Dictionary(grouping: statuses, by: { $0.body["sha"] as? String ?? "?" })
        XCTAssertEqual(Set(bySHA.keys), Set(pushes.keys))
        XCTAssertTrue(bySHA.values.allSatisfy { $0.count == 1 }, "one status per commit: \(statuses.map(\.body))")
        func status(_ sha: String) -> [String: Any] { bySHA[sha]?.first?.body ?? [:] }
        XCTAssertEqual(status("a1")["status"] as? String, "success")
        XCTAssertEqual(status("a1")["checks"] as? [String: String], ["tests": "success", "security": "success", "lint": "success"])
        XCTAssertEqual(status("b2")["status"] as? String, "failure")
        XCTAssertEqual((status("b2")["checks"] as? [String: String])?["lint"], "failure")
        XCTAssertEqual((status("d4")["checks"] as? [String: String])?["security"], "failure")
        XCTAssertEqual(status("c3")["status"] as? String, "timed_out")
        XCTAssertEqual(status("c3")["missing"] as? [String], ["tests"])
    }

    func testTheDocumentSagaCompensatesCompletedStepsNewestFirst() async throws {
        let client = try await startDemoNode(waitingFor: ["doc-saga", "doc-worker"])
        defer { client.close() }
        let documents = ["doc-1": "invoice-1", "doc-2": "corrupt-scan-2", "doc-3": "unroutable-memo-3"]
        _ = try await client.publish(topic: "docs.events", events: try documents.map { try event("document.received", key: $0.key, ["name": $0.value]) })
        let outcomes = try await payloads(client, "docs.outcomes") { outcomes in
            outcomes.filter { $0.type != "doc.compensated" }.count >= 3 && outcomes.filter { $0.type == "doc.compensated" }.count >= 3
        }
        func of(_ document: String) -> [(type: String, detail: String)] {
            outcomes.filter { $0.body["document"] as? String == document }.map { ($0.type, $0.body["detail"] as? String ?? "") }
        }
        XCTAssertEqual(of("doc-1").map(\.type), ["document.completed"])
        XCTAssertEqual(of("doc-2").map(\.type), ["document.failed", "doc.compensated"])
        XCTAssertEqual(of("doc-2").first?.detail, "validate failed (checksum mismatch); compensating extract")
        XCTAssertEqual(of("doc-2").last?.detail, "undid extract")
        XCTAssertEqual(of("doc-3").map(\.detail), ["route failed (no destination); compensating validate, extract", "undid validate", "undid extract"],
                       "compensations newest first")
    }

    func testTheTaskQueueRetriesVerifiesAndSurvivesANodeKilledMidTask() async throws {
        var client = try await startDemoNode(waitingFor: ["task-worker", "task-verifier"])
        let kinds = ["hangs", "flaky", "sloppy", "hopeless"] + Array(repeating: "plain", count: 36)
        let tasks = kinds.enumerated().map { ("task-\($0.offset)", $0.element) }
        _ = try await client.publish(topic: "tasks", events: try tasks.map { try event("task.submitted", key: $0.0, ["task": $0.0, "kind": $0.1]) })
        // Killed while tasks run (the hung one is still in its first attempt).
        try await Task.sleep(for: .milliseconds(150))
        kill(node!.processIdentifier, SIGKILL)
        node!.waitUntilExit()
        client.close()
        client = try await startDemoNode(waitingFor: ["task-worker", "task-verifier"])
        defer { client.close() }

        let verdicts = try await payloads(client, "tasks.verified", seconds: 40) { verdicts in
            Set(verdicts.filter { $0.type != "task.requeued" }.compactMap { $0.body["task"] as? String }).count >= tasks.count
        }
        var final: [String: [String]] = [:]
        var requeued: [String: Int] = [:]
        for verdict in verdicts {
            let task = verdict.body["task"] as? String ?? "?"
            if verdict.type == "task.requeued" { requeued[task, default: 0] += 1 } else { final[task, default: []].append(verdict.type) }
        }
        for (task, kind) in tasks {
            XCTAssertEqual(final[task], [kind == "hopeless" ? "task.escalated" : "task.verified"], "\(task) (\(kind)) decided once")
            XCTAssertEqual(requeued[task] ?? 0, kind == "sloppy" ? 1 : kind == "hopeless" ? 2 : 0, "\(task) re-queued")
            // The worker's state: each submission of the task completed exactly once, crash or not.
            let reply = try await client.ask(agent: "task-worker", key: task, timeout: .seconds(10))
            let completed = try XCTUnwrap(JSONSerialization.jsonObject(with: reply.data) as? [String: Int])["completed"]
            XCTAssertEqual(completed, 1 + (requeued[task] ?? 0), "\(task) completed once per submission")
        }
        let attempts = Dictionary(verdicts.filter { $0.type == "task.verified" }.map { ($0.body["task"] as? String ?? "?", $0.body["attempts"] as? Int ?? 0) },
                                  uniquingKeysWith: { first, _ in first })
        XCTAssertEqual(attempts["task-0"], 2, "the hung attempt was cancelled at its deadline and retried")
        XCTAssertEqual(attempts["task-1"], 2, "the failed attempt was retried")
    }
}
