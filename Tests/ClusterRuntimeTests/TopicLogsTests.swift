import ClusterCore
import EventLog
import Foundation
import XCTest
@testable import ClusterRuntime

/// The node's background maintenance applies each topic's retention; deleting a topic moves its
/// partitions aside at once and removes them in the background.
final class TopicLogsTests: XCTestCase {
    func testMaintenanceAppliesRetentionBySize() throws {
        let directory = NSTemporaryDirectory() + "ganglion-topiclogs-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logs = try TopicLogs(dataDirectory: directory, durability: .operatingSystem)
        defer { logs.closeAll() }
        let log = try logs.log(TopicPartition("metrics", 0), configuration: TopicConfiguration(partitions: 1, retentionBytes: 1000))
        for _ in 0..<5 {
            var builder = RecordBatchBuilder()
            builder.append(key: nil, value: [UInt8](repeating: 1, count: 500), timestamp: 1)
            let appended = try log.append(builder.build())
            log.setHighWatermark(appended.lastOffset + 1)
            try log.rollSegment()
        }
        XCTAssertGreaterThan(logs.maintain(), 0)
        XCTAssertLessThanOrEqual(log.sizeInBytes, 1000 + 600)
        XCTAssertGreaterThan(log.logStartOffset, 0)
    }

    func testAReplicaLogOfAnEarlierTopicOfTheSameNameIsNeverTakenForTheNewOne() throws {
        // A node away while a replicated topic was deleted and made again keeps the old
        // partition's directory: opened for the new topic (another topic id), it starts empty.
        let directory = NSTemporaryDirectory() + "ganglion-topiclogs-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var first = TopicConfiguration(partitions: 1)
        first.topicID = "first"
        var builder = RecordBatchBuilder()
        builder.append(key: nil, value: [1, 2, 3], timestamp: 1)
        do {
            let logs = try TopicLogs(dataDirectory: directory, durability: .everyBatch, replicated: { _ in true })
            try logs.log(TopicPartition("orders", 0), configuration: first).append(builder.build())
            logs.closeAll()
        }
        let logs = try TopicLogs(dataDirectory: directory, durability: .everyBatch, replicated: { _ in true })
        defer { logs.closeAll() }
        XCTAssertEqual(try logs.log(TopicPartition("orders", 0), configuration: first).logEndOffset, 1, "the same topic keeps its log")
        var second = first
        second.topicID = "second"
        XCTAssertEqual(try logs.log(TopicPartition("orders", 0), configuration: second).logEndOffset, 0, "a new topic of the same name starts empty")
    }

    func testADeletedTopicIsGoneAtOnceAndRemovedInTheBackground() throws {
        let directory = NSTemporaryDirectory() + "ganglion-topiclogs-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = TopicConfiguration(partitions: 2)
        var logs = try TopicLogs(dataDirectory: directory, durability: .everyBatch)
        let old = try logs.log(TopicPartition("big", 0), configuration: configuration)
        var builder = RecordBatchBuilder()
        builder.append(key: nil, value: [UInt8](repeating: 7, count: 4096), timestamp: 1)
        for _ in 0..<200 { try old.append(builder.build()) }
        _ = try logs.log(TopicPartition("big", 1), configuration: configuration)

        logs.delete(topic: "big", partitions: 2)
        XCTAssertThrowsError(try old.append(builder.build()), "the deleted log refuses appends") { error in
            XCTAssertEqual((error as? LogError)?.code, .deleted)  // answered as UNKNOWN_TOPIC
        }
        XCTAssertNoThrow(try old.checkpoint(), "a deleted log's checkpoint writes nothing, into nobody's directory")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/topics/big-0"))
        // A topic of the same name starts empty right away.
        let fresh = try logs.log(TopicPartition("big", 0), configuration: configuration)
        XCTAssertEqual(fresh.logEndOffset, 0)
        // The old partitions leave the disk in the background.
        let trash = directory + "/topics-deleted"
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, !((try? FileManager.default.contentsOfDirectory(atPath: trash)) ?? []).isEmpty {
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: trash), [])
        logs.closeAll()

        // A removal a crash interrupted is finished when the node opens its logs again.
        try FileManager.default.createDirectory(atPath: trash + "/interrupted", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: trash + "/interrupted/00000000000000000000.log", contents: Data(count: 100))
        logs = try TopicLogs(dataDirectory: directory, durability: .operatingSystem)
        defer { logs.closeAll() }
        let again = Date().addingTimeInterval(10)
        while Date() < again, FileManager.default.fileExists(atPath: trash + "/interrupted") { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: trash + "/interrupted"))
    }
}
