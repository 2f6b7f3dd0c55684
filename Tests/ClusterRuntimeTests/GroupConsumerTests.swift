import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// A group of consumers over a real node: every event consumed once in steady state with per-key
/// order; when a member dies its partitions move and nothing committed is lost.
final class GroupConsumerTests: XCTestCase {
    private var directory = ""
    private var node: Node?

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "ganglion-consumers-" + UUID().uuidString
        node = try startTestNode(directory) { $0.durability = .interval(.milliseconds(20)); $0.groupSessionTimeout = 1500 }
    }

    override func tearDown() {
        node?.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func events(_ range: Range<Int>) -> [EventEnvelope] {
        range.map { index in
            var event = EventEnvelope()
            event.id = "evt-\(index)"
            event.key = Data("key-\(index % 10)".utf8)
            event.data = Data("\(index)".utf8)
            return event
        }
    }

    /// Reads a consumer's records until it stops, committing each.
    private static func consume(_ consumer: GroupConsumer, into seen: Seen) async throws {
        for try await delivered in consumer.records {
            let envelope = try EventEnvelope(serializedBytes: delivered.record.value!)
            await seen.add(Int(String(decoding: envelope.data, as: UTF8.self))!, key: String(decoding: envelope.key, as: UTF8.self))
            try? await consumer.commit(delivered)
        }
    }

    actor Seen {
        var values: [Int] = []
        var byKey: [String: [Int]] = [:]
        func add(_ value: Int, key: String) {
            values.append(value)
            byKey[key, default: []].append(value)
        }
        var count: Int { values.count }
    }

    func testEveryEventOnceAcrossTheGroupAndPartitionsMoveWhenAMemberDies() async throws {
        let producer = try GanglionClient(endpoint: node!.endpoints.api)
        defer { producer.close() }
        try await producer.createTopic("work", partitions: 4)
        let clientA = try GanglionClient(endpoint: node!.endpoints.api)
        let clientB = try GanglionClient(endpoint: node!.endpoints.api)
        defer { clientA.close(); clientB.close() }
        let a = GroupConsumer(client: clientA, group: "workers", topics: ["work"])
        let b = GroupConsumer(client: clientB, group: "workers", topics: ["work"])
        // Let the group settle: both members hold two partitions each.
        let deadline = Date(timeIntervalSinceNow: 15)
        while Date() < deadline {
            let (left, right) = (await a.assignment, await b.assignment)
            if left.count == 2 && right.count == 2 && left.isDisjoint(with: right) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let (left, right) = (await a.assignment, await b.assignment)
        XCTAssertEqual(left.count + right.count, 4)
        XCTAssertTrue(left.isDisjoint(with: right))

        let seen = Seen()
        _ = try await producer.publish(topic: "work", events: events(0..<400))
        async let readA: Void = Self.consume(a, into: seen)
        async let readB: Void = Self.consume(b, into: seen)
        while await seen.count < 400 { try await Task.sleep(for: .milliseconds(20)) }
        let steady = await seen.values
        XCTAssertEqual(Set(steady), Set(0..<400))
        XCTAssertEqual(steady.count, 400, "nothing twice in steady state")
        for (key, values) in await seen.byKey { XCTAssertEqual(values, values.sorted(), "order of \(key)") }

        // A dies without leaving; its partitions move to B after its session expires.
        await a.abandon()
        _ = try await producer.publish(topic: "work", events: events(400..<600))
        while await seen.count < 600 && Date() < deadline.addingTimeInterval(20) { try await Task.sleep(for: .milliseconds(50)) }
        let after = await seen.values
        XCTAssertEqual(Set(after), Set(0..<600), "nothing lost when a member dies")
        let finalAssignment = await b.assignment
        XCTAssertEqual(finalAssignment.count, 4)
        await b.close()
        _ = try? await readA
        _ = try? await readB
    }
}
