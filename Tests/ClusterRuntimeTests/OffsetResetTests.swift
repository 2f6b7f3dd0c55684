import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Listing groups, offsets by time, and resetting a group's offsets (refused while it has members).
final class OffsetResetTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-reset-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func batch(count: Int, timestamp: Int64) -> [UInt8] {
        var builder = RecordBatchBuilder()
        for index in 0..<count { builder.append(key: nil, value: Array("event \(index)".utf8), timestamp: timestamp) }
        return builder.build()
    }

    func testOffsetsByTimeAndResetsWhileTheGroupIsEmpty() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("orders", partitions: 2)
        for partition: UInt32 in 0..<2 {
            try await client.produce(topic: "orders", partition: partition, batch: batch(count: 10, timestamp: 1_000))
            try await client.produce(topic: "orders", partition: partition, batch: batch(count: 5, timestamp: 2_000))
        }
        let atTime = try await client.listOffsets(topic: "orders", timestamp: 1_500)
        XCTAssertEqual(atTime.map(\.offset), [10, 10])
        let latest = try await client.listOffsets(topic: "orders", partitions: [1], timestamp: -1)
        XCTAssertEqual(latest.map(\.offset), [15])
        let afterAll = try await client.listOffsets(topic: "orders", timestamp: 9_000)
        XCTAssertEqual(afterAll.map(\.offset), [15, 15], "a time after every record is the log end")

        // A member consumes and commits, then the group must be empty before a reset.
        let consumer = GroupConsumer(client: try GanglionClient(endpoint: node.endpoints.api), group: "billing", topics: ["orders"])
        var seen = 0
        for try await delivered in consumer.records {
            try await consumer.commit(delivered)
            seen += 1
            if seen == 30 { break }
        }
        let listed = try await client.listGroups()
        XCTAssertEqual(listed.map(\.group), ["billing"])
        XCTAssertEqual(listed.first?.members, 1)
        do {
            _ = try await client.resetOffsets(group: "billing", topic: "orders", to: .earliest)
            XCTFail("a reset while the group has a member is refused")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .groupNotEmpty)
            XCTAssertTrue(error.message.contains("billing"), error.message)
        }
        await consumer.close()
        let state = try await client.listGroups().first?.state
        XCTAssertEqual(state, "empty")

        let dryRun = try await client.resetOffsets(group: "billing", topic: "orders", to: .shift(-4), dryRun: true)
        XCTAssertEqual(dryRun.map(\.offset), [11, 11])
        let committed = try await client.describeGroup("billing").lag.map(\.committedOffset)
        XCTAssertEqual(committed, [15, 15], "a dry run stores nothing")
        let clamped = try await client.resetOffsets(group: "billing", topic: "orders", partitions: [0], to: .offset(99))
        XCTAssertEqual(clamped.map(\.offset), [15])
        let byTime = try await client.resetOffsets(group: "billing", topic: "orders", to: .timestamp(1_500))
        XCTAssertEqual(byTime.map(\.offset), [10, 10])

        // A new member starts from the reset offsets: it sees exactly the last 5 of each partition.
        let again = GroupConsumer(client: try GanglionClient(endpoint: node.endpoints.api), group: "billing", topics: ["orders"])
        var redelivered: [String] = []
        for try await delivered in again.records {
            redelivered.append("\(delivered.partition)-\(delivered.record.offset)")
            if redelivered.count == 10 { break }
        }
        await again.close()
        XCTAssertEqual(redelivered.sorted(), (0..<2).flatMap { partition in (10..<15).map { "\(partition)-\($0)" } })

        do {
            _ = try await client.resetOffsets(group: "billing", topic: "nope", to: .latest)
            XCTFail("an unknown topic is refused")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .unknownTopic)
        }
    }
}
