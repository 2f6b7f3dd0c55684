import Foundation
import XCTest
@testable import EventLog

/// A new partition's directory is made durable in its parent, and its first segment in the
/// partition's directory; a directory fsync that fails is reported, not ignored.
final class DirectoryDurabilityTests: XCTestCase {
    func testANewLogIsDurableInItsParentAndItsFirstSegmentInItsDirectory() throws {
        let parent = temporaryLogDirectory(self)
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let faults = LogFaults()
        var configuration = LogConfiguration()
        configuration.faults = faults
        let log = try PartitionLog(directory: parent + "/orders-0", configuration: configuration)
        defer { try? log.close() }
        XCTAssertTrue(faults.syncedDirectories.contains(parent), "the new directory's entry in its parent: \(faults.syncedDirectories)")
        XCTAssertTrue(faults.syncedDirectories.contains(parent + "/orders-0"), "the first segment's entries: \(faults.syncedDirectories)")
    }

    func testAFailedDirectoryFsyncIsReported() throws {
        let parent = temporaryLogDirectory(self)
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let faults = LogFaults()
        var configuration = LogConfiguration()
        configuration.faults = faults
        configuration.segmentBytes = 1024
        let log = try PartitionLog(directory: parent + "/orders-0", configuration: configuration)
        defer { try? log.close() }
        try log.append(batch(1, valueSize: 900))
        faults.failNextDirectorySyncs(1)
        // The next append rolls a segment, whose new file must be made durable in the directory.
        let error = assertLogError(.io) { try log.append(batch(1, from: 1, valueSize: 900)) }
        XCTAssertTrue(error?.message.contains("fsync") ?? false, error?.message ?? "")
    }
}
