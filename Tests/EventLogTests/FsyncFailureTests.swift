import Foundation
import XCTest
@testable import EventLog

/// A failed fsync is never acknowledged past: the log refuses appends and acknowledgements until
/// it is reopened and recovered (PostgreSQL's answer to fsyncgate), and no later successful fsync
/// is taken to cover the range that failed.
final class FsyncFailureTests: XCTestCase {
    private func open(_ directory: String, faults: LogFaults) throws -> PartitionLog {
        var configuration = LogConfiguration()
        configuration.durability = .everyBatch
        configuration.faults = faults
        return try PartitionLog(directory: directory, configuration: configuration)
    }

    func testAFailedFsyncPoisonsTheLogUntilItIsReopened() throws {
        let directory = temporaryLogDirectory(self)
        let faults = LogFaults()
        let log = try open(directory, faults: faults)
        try log.append(batch(1, from: 0))
        faults.failNextSyncs(1)
        assertLogError(.io) { try log.append(batch(1, from: 1)) }
        // The page cache may hold the failed range; a later fsync succeeding says nothing about it.
        let later = assertLogError(.io) { try log.append(batch(1, from: 2)) }
        XCTAssertTrue(later?.message.contains("fsync") ?? false, later?.message ?? "")
        XCTAssertEqual(log.durableEndOffset, 1, "nothing past the failed fsync counts as durable")
        let done = DispatchSemaphore(value: 0)
        log.whenDurable(2) { result in
            if case .success = result { XCTFail("a waiter past the failed range was told it is durable") }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        try? log.close()
        // Reopening recovers from what the files hold, and the log serves again.
        let reopened = try open(directory, faults: faults)
        defer { try? reopened.close() }
        let appended = try reopened.append(batch(1, from: 9))
        XCTAssertEqual(try reopened.records(from: appended.firstOffset).first?.key, Array("k9".utf8))
    }
}
