import Foundation
import XCTest
@testable import EventLog

/// Batches of an idempotent producer are stored once, in sequence, and only from its latest epoch.
final class IdempotentProducerTests: XCTestCase {
    private func batch(producer: Int64, epoch: Int16, sequence: Int32, count: Int = 2) -> [UInt8] {
        var builder = RecordBatchBuilder()
        builder.producerID = producer
        builder.producerEpoch = epoch
        builder.baseSequence = sequence
        for index in 0..<count { builder.append(key: nil, value: Array("s\(sequence)-\(index)".utf8), timestamp: 1) }
        return builder.build()
    }

    private func open(_ directory: String) throws -> PartitionLog {
        var configuration = LogConfiguration()
        configuration.durability = .operatingSystem
        return try PartitionLog(directory: directory, configuration: configuration)
    }

    func testARetriedBatchIsStoredOnceAndAnsweredWithItsOffsets() throws {
        let directory = temporaryLogDirectory(self)
        var log = try open(directory)
        let first = try log.append(batch(producer: 7, epoch: 0, sequence: 0))
        let second = try log.append(batch(producer: 7, epoch: 0, sequence: 2))
        let retry = try log.append(batch(producer: 7, epoch: 0, sequence: 0))
        XCTAssertTrue(retry.duplicate)
        XCTAssertEqual(retry.firstOffset, first.firstOffset)
        XCTAssertEqual(log.logEndOffset, 4, "nothing stored twice")
        XCTAssertFalse(second.duplicate)
        // Still recognised after a restart (state rebuilt from the batch headers).
        try log.close()
        log = try open(directory)
        XCTAssertTrue(try log.append(batch(producer: 7, epoch: 0, sequence: 2)).duplicate)
        XCTAssertEqual(try log.append(batch(producer: 7, epoch: 0, sequence: 4)).firstOffset, 4)
    }

    func testGapsAndFencedEpochsAreRefused() throws {
        let log = try open(temporaryLogDirectory(self))
        try log.append(batch(producer: 1, epoch: 3, sequence: 0))
        let gap = assertLogError(.outOfOrderSequence) { try log.append(batch(producer: 1, epoch: 3, sequence: 5)) }
        XCTAssertTrue(gap?.message.contains("expected 2") ?? false, gap?.message ?? "")
        try log.append(batch(producer: 1, epoch: 4, sequence: 0))  // a new instance took over
        assertLogError(.invalidProducerEpoch) { try log.append(batch(producer: 1, epoch: 3, sequence: 2)) }
        assertLogError(.outOfOrderSequence) { try log.append(batch(producer: 1, epoch: 5, sequence: 3)) }
        // Batches without a producer id are never checked.
        var plain = RecordBatchBuilder()
        plain.append(key: nil, value: [1], timestamp: 1)
        XCTAssertFalse(try log.append(plain.build()).duplicate)
        XCTAssertFalse(try log.append(plain.build()).duplicate)
    }
}
