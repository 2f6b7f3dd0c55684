import ClusterCore
import EventLog
import Foundation
import XCTest
@testable import ClusterRuntime

/// After an unclean stop (no checkpoint written at close) the high watermark is recovered from
/// what the log holds: on a node that is every partition's only replica, everything recovery kept
/// was committed, so ListOffsets latest, lag and readAll see it.
final class HighWatermarkRecoveryTests: XCTestCase {
    func testTheHighWatermarkIsRecoveredWithoutACheckpoint() throws {
        let directory = NSTemporaryDirectory() + "ganglion-hwm-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let partition = TopicPartition("ledger", 0)
        let first = try TopicLogs(dataDirectory: directory, durability: .everyBatch)
        let log = try first.log(partition, configuration: TopicConfiguration(partitions: 1))
        var builder = RecordBatchBuilder()
        for index in 0..<3 { builder.append(key: [UInt8(index)], value: [1], timestamp: 1) }
        let appended = try log.append(builder.build())
        log.advanceHighWatermark(to: appended.lastOffset + 1)
        // No closeAll(): the process dies here, with no checkpoint of the high watermark.
        let second = try TopicLogs(dataDirectory: directory, durability: .everyBatch)
        defer { second.closeAll() }
        let recovered = try second.log(partition, configuration: TopicConfiguration(partitions: 1))
        XCTAssertEqual(recovered.logEndOffset, 3)
        XCTAssertEqual(recovered.highWatermark, 3, "the acknowledged records are committed after the restart")
        withExtendedLifetime(first) {}
    }
}
