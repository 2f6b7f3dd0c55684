import ClusterCore
import EventLog
import Foundation
import XCTest
@testable import ClusterRuntime

/// The node's background maintenance applies each topic's retention.
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
}
