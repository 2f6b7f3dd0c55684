import Foundation
import XCTest
@testable import EventLog

/// One flusher serves many logs: every appender is answered once durable, each log's appends in
/// flight together share fsyncs, and a failed fsync still poisons only its own log.
final class LogFlusherTests: XCTestCase {
    private func openLogs(_ count: Int, flusher: LogFlusher, faults: LogFaults? = nil) throws -> [PartitionLog] {
        var configuration = LogConfiguration()
        configuration.durability = .everyBatch
        configuration.flusher = flusher
        return try (0..<count).map { index in
            var own = configuration
            if index == 0 { own.faults = faults }
            return try PartitionLog(directory: temporaryLogDirectory(self), configuration: own)
        }
    }

    func testOneThreadGroupCommitsForManyLogs() async throws {
        let logs = try openLogs(20, flusher: LogFlusher(threads: 1))
        try await withThrowingTaskGroup(of: (PartitionLog, AppendResult).self) { group in
            for log in logs {
                for index in 0..<25 { group.addTask { (log, try await log.append(batch(1, from: index))) } }
            }
            for try await (log, result) in group {
                XCTAssertGreaterThan(log.durableEndOffset, result.lastOffset, "answered before durable")
            }
        }
        for log in logs {
            XCTAssertEqual(log.logEndOffset, 25)
            XCTAssertLessThan(log.fsyncCount, 25, "appends in flight together share fsyncs")
            try log.close()
        }
    }

    func testAFailedFsyncPoisonsOnlyItsOwnLog() throws {
        let faults = LogFaults()
        let logs = try openLogs(3, flusher: LogFlusher(threads: 1), faults: faults)
        faults.failNextSyncs(1)
        assertLogError(.io) { try logs[0].append(batch(1)) }
        assertLogError(.io) { try logs[0].append(batch(1)) }
        for log in logs.dropFirst() {
            XCTAssertEqual(try log.append(batch(1)).lastOffset, 0)
            try log.close()
        }
    }
}
