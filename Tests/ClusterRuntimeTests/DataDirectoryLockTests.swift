import Foundation
import XCTest
@testable import ClusterRuntime

/// Two nodes never share a data directory: the second is refused, naming the directory, while
/// the first runs (it would write the same logs and metadata); once the first stops, the
/// directory is free again.
final class DataDirectoryLockTests: XCTestCase {
    func testASecondNodeOnTheSameDirectoryIsRefusedUntilTheFirstStops() throws {
        let directory = NSTemporaryDirectory() + "ganglion-dir-lock-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try startTestNode(directory)
        XCTAssertThrowsError(try startTestNode(directory)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(directory) && message.contains("in use"), message)
            XCTAssertTrue(message.contains("process \(ProcessInfo.processInfo.processIdentifier)"), message)
        }
        first.stop()
        let second = try startTestNode(directory)
        second.stop()
    }
}
