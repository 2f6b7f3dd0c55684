import Foundation
import XCTest
@testable import EventLog

/// The LRU of open segment files: a bound on descriptors across logs, files reopened on demand,
/// and files held open past their deletion or replacement for readers that still hold them.
final class LogFilePoolTests: XCTestCase {
    func testIdleDescriptorsStayWithinTheLimitAndEvictedFilesReopen() throws {
        let directory = temporaryLogDirectory(self)
        try LogDirectory.create(directory)
        let pool = LogFilePool(limit: 4)
        let files = try (0..<20).map { try LogFile(path: "\(directory)/f\($0)", create: true, pool: pool) }
        for (index, file) in files.enumerated() {
            try Array("file \(index)".utf8).withUnsafeBytes { try file.write([$0], at: 0) }
            XCTAssertLessThanOrEqual(pool.openDescriptors, 4)
        }
        for (index, file) in files.enumerated().reversed() {
            XCTAssertEqual(try file.read(at: 0, count: 64), Array("file \(index)".utf8))
        }
        XCTAssertEqual(pool.openDescriptors, 4)
    }

    func testReleasedFilesGiveBackTheirDescriptors() throws {
        let directory = temporaryLogDirectory(self)
        try LogDirectory.create(directory)
        let pool = LogFilePool(limit: 8)
        var files = try (0..<6).map { try LogFile(path: "\(directory)/f\($0)", create: true, pool: pool) }
        XCTAssertEqual(pool.openDescriptors, 6)
        files.removeAll()
        XCTAssertEqual(pool.openDescriptors, 0)
    }

    func testASegmentDeletedUnderAReaderStillReadsThroughASmallPool() throws {
        var configuration = LogConfiguration()
        configuration.durability = .operatingSystem
        configuration.segmentBytes = 1024
        configuration.retentionBytes = 0
        configuration.openFiles = LogFilePool(limit: 2)  // every other file use evicts
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration)
        for index in 0..<12 { try log.append(batch(1, from: index, valueSize: 300)) }
        let oldest = try XCTUnwrap(log.locked { log.segments.first })
        log.setHighWatermark(12)
        XCTAssertFalse(try log.applyRetention().deletedSegments.isEmpty)
        XCTAssertFalse(LogDirectory.exists(oldest.logPath))
        for index in 0..<10 { _ = try? log.records(from: log.logStartOffset); _ = index }  // churn the pool
        let header = try oldest.file.read(at: 0, count: RecordBatchLayout.headerSize)
        XCTAssertEqual(try header.withUnsafeBytes { try RecordBatchHeader(parsing: $0) }.baseOffset, 0)
    }
}

extension LogFilePoolTests {
    func testAnEvictedFileWhosePathWasReplacedIsNotReadAsTheOldOne() throws {
        let directory = temporaryLogDirectory(self)
        try LogDirectory.create(directory)
        let pool = LogFilePool(limit: 2)
        let file = try LogFile(path: "\(directory)/segment", create: true, pool: pool)
        try Array("old".utf8).withUnsafeBytes { try file.write([$0], at: 0) }
        let replacement = try LogFile(path: "\(directory)/segment.cleaned", create: true, pool: pool)
        try Array("new".utf8).withUnsafeBytes { try replacement.write([$0], at: 0) }
        try LogDirectory.rename("\(directory)/segment.cleaned", "\(directory)/segment")
        _ = try (0..<3).map { try LogFile(path: "\(directory)/other-\($0)", create: true, pool: pool) }  // evicts `file`
        let error = assertLogError(.io) { try file.read(at: 0, count: 3) }
        XCTAssertTrue(error?.message.contains("replaced") ?? false, error?.message ?? "")
    }
}
