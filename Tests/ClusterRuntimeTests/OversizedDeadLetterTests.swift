import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import XCTest

private struct Refused: Error {}

/// Gives up on every event of type `fail` (one attempt); notes the others on `big.out`.
private struct GivingUpAgent: Agent {
    struct State: Codable, Sendable { var seen = 0 }
    let name = "big"
    let subscription = try! AgentSubscription(topic: "big.in")
    var retryPolicy: RetryPolicy { RetryPolicy(maxAttempts: 1, initialBackoffMilliseconds: 10, maxBackoffMilliseconds: 10) }

    func handle(_ context: AgentContext<State>) async throws {
        if context.event.type == "fail" { throw Refused() }
        context.state = State(seen: (context.state?.seen ?? 0) + 1)
        context.emit(topic: "big.out", type: "noted", data: Data(context.event.id.utf8))
    }
}

/// An input the log only just took (near its 1 MiB record limit) that goes to the dead letters
/// does not stop the shard: its dead letter, which with the event inside would be over the limit,
/// names where the event is instead of holding it, and the rest is handled.
final class OversizedDeadLetterTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-oversized-letter-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testAnInputNearTheRecordLimitIsDeadLetteredByReferenceAndTheShardGoesOn() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("big.in", partitions: 1)
        try await client.createTopic("big.out", partitions: 1)
        let host = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(GivingUpAgent()) }
        defer { host.cancel() }
        try await waitForMembers(client, group: "big")

        func event(_ id: String, _ type: String, key: String, bytes: Int = 1) -> EventEnvelope {
            var event = EventEnvelope()
            event.id = id
            event.type = type
            event.key = Data(key.utf8)
            event.data = Data(repeating: UInt8(ascii: "x"), count: bytes)
            return event
        }
        // As large as one record may be, less a little: the log takes it.
        let big = event("huge", "fail", key: "a", bytes: (1 << 20) - 200)
        _ = try await client.publish(topic: "big.in", events: [event("e1", "ok", key: "a"), big])
        _ = try await client.publish(topic: "big.in", events: [event("e2", "ok", key: "a"), event("e3", "ok", key: "b")])
        var outputs: [String] = []
        var letters: [EventEnvelope] = []
        for _ in 0..<500 {
            outputs = try await storedEvents(client, "big.out").map { String(decoding: $0.data, as: UTF8.self) }
            letters = try await storedEvents(client, "big.dlq")
            if outputs.count >= 3 && letters.count >= 1 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(outputs.sorted(), ["e1", "e2", "e3"], "the events after the oversized one were handled")
        XCTAssertEqual(letters.map(\.causationID), ["huge"])
        guard let letter = letters.first else { return }
        XCTAssertTrue(letter.data.isEmpty, "the letter does not hold the event (\(letter.data.count) bytes)")
        XCTAssertEqual(letter.extensions["offset"], "1")
        XCTAssertTrue(letter.extensions["data_omitted"]?.contains("big.in-0@1") == true, "\(letter.extensions)")
        // A replay reads it back from there.
        let original = try await AgentHost.originalEvent(of: letter, client: client)
        XCTAssertEqual(original.id, "huge")
        XCTAssertEqual(original.data, big.data)
        // A letter that holds its event gives it back as it is.
        var small = letter
        small.extensions[AgentAsk.deadLetterOmittedKey] = nil
        small.data = try event("e9", "ok", key: "c").serializedData()
        let held = try await AgentHost.originalEvent(of: small, client: client)
        XCTAssertEqual(held.id, "e9")
        // Once its input is gone, the error says so.
        var gone = letter
        gone.extensions["offset"] = "0"
        do {
            _ = try await AgentHost.originalEvent(of: gone, client: client)
            XCTFail("e1 is not the dead letter's event")
        } catch let error as GanglionError {
            XCTAssertTrue(error.message.contains("not huge"), error.message)
        }
    }
}
