import ClusterCore
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest
@testable import ClusterRuntime

/// A consumer whose position is outside the log (retention deleted it) gets its reset policy
/// (Kafka's auto.offset.reset) or a clear error, never a silent stall; a group's first position is
/// its policy, not offset 0 by accident.
final class OffsetResetPolicyTests: XCTestCase {
    private var directory = ""
    private var node: Node?

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "ganglion-reset-" + UUID().uuidString
        node = try startTestNode(directory)
    }

    override func tearDown() {
        node?.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func event(_ value: String) -> EventEnvelope {
        var event = EventEnvelope()
        event.id = value
        event.key = Data("k".utf8)
        event.data = Data(value.utf8)
        return event
    }

    /// A topic whose first 3 records were deleted by retention: its log starts at 3.
    private func agedTopic(_ client: GanglionClient) async throws {
        try await client.createTopic("aged", partitions: 1, retentionMilliseconds: 1)
        _ = try await client.publish(topic: "aged", events: ["a", "b", "c"].map(event))
        let log = try node!.logs.log(TopicPartition("aged", 0), configuration: try XCTUnwrap(node!.metadataState.topics["aged"]))
        try log.rollSegment()
        try await Task.sleep(for: .milliseconds(20))
        node!.logs.maintain()
        XCTAssertEqual(log.logStartOffset, 3)
        _ = try await client.publish(topic: "aged", events: ["d", "e"].map(event))
    }

    private func values(_ consumer: GroupConsumer, count: Int) async throws -> [String] {
        try await withThrowingTaskGroup(of: [String].self) { group in
            group.addTask {
                var seen: [String] = []
                for try await delivered in consumer.records {
                    seen.append(String(decoding: try EventEnvelope(serializedBytes: delivered.record.value!).data, as: UTF8.self))
                    if seen.count == count { break }
                }
                return seen
            }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                throw GanglionError(code: .timeout, message: "the consumer stalled")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    func testANewGroupStartsAtTheLogStartNotAtOffsetZero() async throws {
        let client = try GanglionClient(endpoint: node!.endpoints.api)
        defer { client.close() }
        try await agedTopic(client)
        let consumer = GroupConsumer(client: client, group: "fresh", topics: ["aged"])
        let seen = try? await values(consumer, count: 2)
        await consumer.close()
        XCTAssertEqual(seen, ["d", "e"])
    }

    func testLatestSkipsTheHistoryAndNoneIsAClearError() async throws {
        let client = try GanglionClient(endpoint: node!.endpoints.api)
        defer { client.close() }
        try await agedTopic(client)
        let latest = GroupConsumer(client: client, group: "tail", topics: ["aged"], resetPolicy: .latest)
        try await waitForMembers(client, group: "tail")
        try await Task.sleep(for: .milliseconds(300))
        _ = try await client.publish(topic: "aged", events: [event("f")])
        let seen = try? await values(latest, count: 1)
        await latest.close()
        XCTAssertEqual(seen, ["f"])

        let stream = try PartitionStream(client: client, pubEndpoint: node!.endpoints.pub, topic: "aged", partition: 0, from: 0, reset: .none)
        defer { stream.close() }
        var records = stream.records().makeAsyncIterator()
        do {
            _ = try await records.next()
            XCTFail("a position below the log start must not be read past silently")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .offsetOutOfRange)
            XCTAssertTrue(error.message.contains("log start 3"), error.message)
        }
    }
}
