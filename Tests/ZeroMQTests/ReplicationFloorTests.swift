import CZeroMQBaseline
import Foundation
import XCTest

/// The C replication floor (`ganglion_c_replication_throughput`, under `bench --replication`)
/// reports a figure only for batches it made durable: a write or fsync that fails fails the run
/// with its errno instead of counting as durable (or waiting out a timeout).
final class ReplicationFloorTests: XCTestCase {
    private func directory(withPartitionFileOf node: Int, at target: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ganglion-floor-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
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

    func testAHealthyRunReportsBatches() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ganglion-floor-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        XCTAssertGreaterThan(ganglion_c_replication_throughput(directory.path, 4096, 1, 3, 4, 0.3), 0)
    }
}
