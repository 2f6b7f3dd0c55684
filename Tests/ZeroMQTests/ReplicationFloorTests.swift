import CZeroMQBaseline
import Foundation
import XCTest

/// The C replication floor (`ganglion_c_replication_throughput`, under `bench --replication`)
/// reports a figure only for batches it made durable: a write or fsync that fails fails the run
/// with its errno instead of counting as durable (or waiting out a timeout).
final class ReplicationFloorTests: XCTestCase {
    /// A new empty directory for the floor's files (the caller removes it).
    private func emptyDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ganglion-floor-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    private func directory(withPartitionFileOf node: Int, at target: String) throws -> URL {
        let directory = try emptyDirectory()
        // The floor opens `node-N-partition-P.log` in the directory: here node N's lands on `target`.
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("node-\(node)-partition-0.log").path,
                                                   withDestinationPath: target)
        return directory
    }

    func testAReplicaWhoseFsyncFailsFailsTheRunWithItsErrno() throws {
        // /dev/null takes every write and refuses fdatasync (EINVAL): nothing there is durable.
        let directory = try directory(withPartitionFileOf: 1, at: "/dev/null")
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = ganglion_c_replication_throughput(directory.path, 4096, 1, 3, 4, 0.3)
        XCTAssertEqual(result, -Double(EINVAL), "a run whose follower could not fsync reported \(result) batches/s")
    }

    func testALeaderWhoseWritesFailFailsTheRunWithItsErrno() throws {
        // /dev/full refuses every write (ENOSPC).
        let directory = try directory(withPartitionFileOf: 0, at: "/dev/full")
        defer { try? FileManager.default.removeItem(at: directory) }
        let started = ContinuousClock.now
        let result = ganglion_c_replication_throughput(directory.path, 4096, 1, 1, 4, 0.3)
        XCTAssertEqual(result, -Double(ENOSPC), "a run whose leader could not write reported \(result)")
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(4), "the failed write was noticed only by the client's 5 s timeout")
    }

    func testAShortWriteFailsTheRunAtOnce() throws {
        // A file size limit past the first batch makes the second write short (as a filling disk
        // does first); the run must fail there, not count the partial batch durable and fail on
        // the write after it. The limit is the whole process's: set only around the run.
        let directory = try emptyDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var saved = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &saved)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var limit = saved
        limit.rlim_cur = 6000
        XCTAssertEqual(setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit), 0)
        let result = ganglion_c_replication_throughput(directory.path, 4096, 1, 1, 1, 0.3)
        setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &saved)
        signal(SIGXFSZ, previousHandler)
        XCTAssertEqual(result, -Double(ENOSPC), "a run whose second write was short reported \(result)")
    }

    func testAHealthyRunReportsBatches() throws {
        let directory = try emptyDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        XCTAssertGreaterThan(ganglion_c_replication_throughput(directory.path, 4096, 1, 3, 4, 0.3), 0)
    }
}
