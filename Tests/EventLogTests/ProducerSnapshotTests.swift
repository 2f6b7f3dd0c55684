import Foundation
import XCTest
@testable import EventLog

/// After compaction removes an idempotent producer's last batch, its state survives a restart (a
/// producer snapshot, as Kafka keeps): a retry of that batch is still a duplicate, and a gap in
/// its sequence is still refused.
final class ProducerSnapshotTests: XCTestCase {
    private func batch(producer: Int64, sequence: Int32, key: String, value: String) -> [UInt8] {
        var builder = RecordBatchBuilder()
        builder.producerID = producer
        builder.producerEpoch = 0
        builder.baseSequence = sequence
        builder.append(key: Array(key.utf8), value: Array(value.utf8), timestamp: 1_000)
        return builder.build()
    }

    private func open(_ directory: String) throws -> PartitionLog {
        var configuration = LogConfiguration()
        configuration.compacted = true
        configuration.durability = .operatingSystem
        return try PartitionLog(directory: directory, configuration: configuration)
    }

    func testAProducerWhoseBatchesWereCompactedAwayKeepsItsSequenceAcrossARestart() throws {
        let directory = temporaryLogDirectory(self)
        var log = try open(directory)
        let original = try log.append(batch(producer: 7, sequence: 0, key: "a", value: "p7"))
        // Another producer overwrites the key; compaction then drops producer 7's only batch.
        try log.append(batch(producer: 9, sequence: 0, key: "a", value: "p9"))
        try log.rollSegment()
        try log.append(batch(producer: 9, sequence: 1, key: "b", value: "p9"))
        try log.rollSegment()
        XCTAssertGreaterThan(try log.compact().removedRecords, 0)
        XCTAssertFalse(try log.records(from: 0).contains { $0.value == Array("p7".utf8) }, "producer 7's batch is gone")
        try log.close()
        log = try open(directory)
        defer { try? log.close() }
        let retry = try log.append(batch(producer: 7, sequence: 0, key: "a", value: "p7"))
        XCTAssertTrue(retry.duplicate, "a retry of the compacted batch is still recognised")
        XCTAssertEqual(retry.firstOffset, original.firstOffset)
        let gap = assertLogError(.outOfOrderSequence) { try log.append(batch(producer: 7, sequence: 5, key: "c", value: "late")) }
        XCTAssertNotNil(gap, "a gap after the compacted batch is still refused")
        XCTAssertFalse(try log.append(batch(producer: 7, sequence: 1, key: "c", value: "next")).duplicate)
    }
}
