import Foundation
import XCTest
@testable import EventLog

/// Damaged bytes are detected: a torn or corrupt tail is cut on open; corruption in the middle is
/// reported and never served.
final class CorruptionTests: XCTestCase {
    private var configuration: LogConfiguration {
        var configuration = LogConfiguration()
        configuration.durability = .operatingSystem
        configuration.segmentBytes = 1 << 20
        return configuration
    }

    /// Ten one-record batches; returns the directory and the batch positions in the segment.
    private func filledLog() throws -> (String, [Int]) {
        let directory = temporaryLogDirectory(self)
        let log = try PartitionLog(directory: directory, configuration: configuration)
        var positions: [Int] = []
        for index in 0..<10 {
            positions.append(log.sizeInBytes)
            try log.append(batch(1, from: index, valueSize: 50))
        }
        try log.close()
        return (directory, positions)
    }

    private func segmentPath(_ directory: String) -> String { directory + "/" + Segment.fileName(0, ".log") }

    func testAFlippedByteInTheMiddleIsReportedAndNeverServed() throws {
        let (directory, positions) = try filledLog()
        try flipByte(in: segmentPath(directory), at: positions[4] + 70)
        let log = try PartitionLog(directory: directory, configuration: configuration)
        XCTAssertEqual(log.recovery.corruptPositions, [positions[4]])
        XCTAssertEqual(log.recovery.truncatedBytes, 0, "good batches after the damage are kept")
        XCTAssertEqual(log.logEndOffset, 10)
        let error = assertLogError(.corruption) { try log.read(from: 4, maxBytes: 1 << 20) }
        XCTAssertTrue(error?.message.contains(segmentPath(directory)) ?? false, error?.message ?? "")
        XCTAssertTrue(error?.message.contains("position \(positions[4])") ?? false, error?.message ?? "")
        // Reads before the damage stop short of it; reads after it work.
        XCTAssertEqual(try log.read(from: 0, maxBytes: 1 << 20).nextOffset, 4)
        XCTAssertEqual(try log.read(from: 5, maxBytes: 1 << 20).nextOffset, 10)
    }

    func testATornTailIsCutOnOpenAndReported() throws {
        let (directory, positions) = try filledLog()
        let path = segmentPath(directory)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        // A crash in the middle of writing the last batch: only part of it reached the disk.
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        try handle.truncate(atOffset: UInt64(positions[9] + 30))
        try handle.close()
        let log = try PartitionLog(directory: directory, configuration: configuration)
        XCTAssertEqual(log.recovery.truncatedBytes, 30)
        XCTAssertNotNil(log.recovery.truncationReason)
        XCTAssertEqual(log.logEndOffset, 9)
        XCTAssertEqual(try log.records(from: 0).map(\.offset), Array(0..<9))
        XCTAssertEqual(try log.append(batch(1)).firstOffset, 9, "appends continue where the good data ends")
        XCTAssertLessThan(positions[9], size)
    }

    func testACorruptLastBatchIsCutOnOpen() throws {
        let (directory, positions) = try filledLog()
        try flipByte(in: segmentPath(directory), at: positions[9] + 65)
        let log = try PartitionLog(directory: directory, configuration: configuration)
        XCTAssertGreaterThan(log.recovery.truncatedBytes, 0)
        XCTAssertTrue(log.recovery.truncationReason?.contains("CRC32C") ?? false, log.recovery.truncationReason ?? "")
        XCTAssertEqual(log.logEndOffset, 9)
    }

    func testGarbageAfterTheLastBatchIsCut() throws {
        let (directory, _) = try filledLog()
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: segmentPath(directory)))
        try handle.seekToEnd()
        handle.write(Data(repeating: 0xAB, count: 100))
        try handle.close()
        let log = try PartitionLog(directory: directory, configuration: configuration)
        XCTAssertEqual(log.recovery.truncatedBytes, 100)
        XCTAssertEqual(log.logEndOffset, 10)
    }

    func testCorruptionInAClosedSegmentIsNotServed() throws {
        let directory = temporaryLogDirectory(self)
        var small = configuration
        small.segmentBytes = 2048
        let log = try PartitionLog(directory: directory, configuration: small)
        for index in 0..<40 { try log.append(batch(1, from: index, valueSize: 100)) }
        try log.close()
        try flipByte(in: segmentPath(directory), at: 500)
        let reopened = try PartitionLog(directory: directory, configuration: small)
        XCTAssertGreaterThan(reopened.segmentBaseOffsets.count, 2)
        var offset = Int64(0)
        var corruptionSeen = false
        while offset < reopened.logEndOffset {
            do {
                let read = try reopened.read(from: offset, maxBytes: 1)
                offset = read.nextOffset
            } catch let error as LogError where error.code == .corruption {
                corruptionSeen = true
                offset += 1
            }
        }
        XCTAssertTrue(corruptionSeen)
    }
}
