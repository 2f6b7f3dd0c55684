import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Keeps a note per key; an event of type `grow` makes the key's note larger than the log takes
/// in one record (1 MiB by default), `shout` emits an event that large.
private struct NotesAgent: Agent {
    struct State: Codable, Sendable { var note = "" }
    let name = "notes"
    let subscription = try! AgentSubscription(topic: "notes.in")
    var retryPolicy: RetryPolicy { RetryPolicy(maxAttempts: 2, initialBackoffMilliseconds: 10, maxBackoffMilliseconds: 10) }

    func handle(_ context: AgentContext<State>) async throws {
        let big = String(repeating: "x", count: 1_200_000)
        switch context.event.type {
        case "grow": context.state = State(note: big)
        case "shout": context.emit(topic: "notes.out", type: "shout", data: Data(big.utf8))
        case "typo": context.emit(topic: "notes.outt", type: "typo", data: Data("t".utf8))
        case "mixed":
            context.emit(topic: "notes.out", type: "before", data: Data("before".utf8))
            context.emit(topic: "notes.outt", type: "typo", data: Data("t".utf8))
            context.emit(topic: "notes.out", type: "after", data: Data("after-typo".utf8))
        default:
            context.state = State(note: context.event.type)
            context.emit(topic: "notes.out", type: "noted", data: Data(context.event.type.utf8))
        }
    }
}

/// A handler's effects the log cannot take — a state or an emitted event over its record limit
/// (that event fails: retried, then dead-lettered with the reason), an event emitted to a topic
/// that does not exist (it goes to the dead letters, naming the topic) — never stop the shard:
/// the rest is handled.
final class UnstorableEffectsTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-unstorable-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// A node with the notes agent's topics and its host running (a member of its group).
    private func startNotes() async throws -> (Node, GanglionClient, Task<Void, any Error>) {
        let node = try startTestNode(directory)
        let client = try GanglionClient(endpoint: node.endpoints.api)
        try await client.createTopic("notes.in", partitions: 1)
        try await client.createTopic("notes.out", partitions: 1)
        let host = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(NotesAgent()) }
        try await waitForMembers(client, group: "notes")
        return (node, client, host)
    }

    func testEffectsTheLogCannotTakeAreDeadLetteredAndTheShardGoesOn() async throws {
        let (node, client, host) = try await startNotes()
        defer {
            host.cancel()
            client.close()
            node.stop()
        }

        func event(_ id: String, _ type: String, key: String) -> EventEnvelope {
            var event = EventEnvelope()
            event.id = id
            event.type = type
            event.key = Data(key.utf8)
            return event
        }
        _ = try await client.publish(topic: "notes.in", events: [
            event("e1", "first", key: "a"), event("e2", "grow", key: "a"), event("e3", "shout", key: "b"),
            event("e4", "after", key: "a"), event("e5", "other", key: "c"), event("e6", "typo", key: "d"), event("e7", "later", key: "d"),
        ])
        var outputs: [String] = []
        var letters: [EventEnvelope] = []
        for _ in 0..<500 {
            outputs = try await storedEvents(client, "notes.out").map { String(decoding: $0.data, as: UTF8.self) }
            letters = try await storedEvents(client, "notes.dlq")
            if outputs.count >= 4 && letters.count >= 3 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(outputs.sorted(), ["after", "first", "later", "other"], "the events around the oversized ones were handled")
        XCTAssertLessThan(outputs.firstIndex(of: "first") ?? 9, outputs.firstIndex(of: "after") ?? 0, "in order per key")
        XCTAssertEqual(letters.count, 3)
        let typo = letters.first { $0.extensions["topic"] == "notes.outt" }
        XCTAssertTrue(typo?.extensions["error"]?.contains("notes.outt does not exist") == true, "\(String(describing: typo))")
        XCTAssertEqual(try typo.map { try EventEnvelope(serializedBytes: $0.data).type }, "typo", "the letter holds the emitted event")
        XCTAssertEqual(letters.filter { $0 != typo }.map(\.causationID).sorted(), ["e2", "e3"])
        for letter in letters where letter != typo {
            let error = letter.extensions["error"] ?? ""
            XCTAssertTrue(error.contains("1048576") && (error.contains("state") || error.contains("emitted")), error)
        }
        // The key is not stuck: an ask of it is answered.
        _ = try await client.ask(agent: "notes", key: "a")
    }

    /// Events emitted around one to a missing topic are stored once each: the forwarder, told
    /// the topic is missing after it stored what came before it, does not send that again.
    func testEventsEmittedBeforeOneToAMissingTopicAreStoredOnce() async throws {
        let (node, client, host) = try await startNotes()
        defer {
            host.cancel()
            client.close()
            node.stop()
        }
        var event = EventEnvelope()
        event.id = "m1"
        event.type = "mixed"
        event.key = Data("a".utf8)
        _ = try await client.publish(topic: "notes.in", events: [event])
        for _ in 0..<500 {
            if try await storedEvents(client, "notes.dlq").count >= 1 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Whatever the forwarder would send twice is stored by now: its letter comes after it.
        _ = try await client.ask(agent: "notes", key: "a")
        let outputs = try await storedEvents(client, "notes.out").map { String(decoding: $0.data, as: UTF8.self) }
        XCTAssertEqual(outputs.filter { $0 != AgentAsk.defaultType }, ["before", "after-typo"], "each emitted event stored once, in order")
        let letters = try await storedEvents(client, "notes.dlq")
        XCTAssertEqual(letters.map { $0.extensions["topic"] }, ["notes.outt"])
    }
}
