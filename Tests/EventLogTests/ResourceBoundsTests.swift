import Foundation
import XCTest
@testable import EventLog

/// A node with many partitions holds a bounded number of threads and file descriptors: logs
/// share one flusher pool and one LRU of open segment files, instead of a thread and three
/// descriptors per partition (issue 13 §4).
final class ResourceBoundsTests: XCTestCase {
    /// Threads of this process (`/proc/self/task`).
    private func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
    }

    /// Open file descriptors of this process (`/proc/self/fd`).
    private func descriptorCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }

    func testTenThousandLogsHoldBoundedThreadsAndDescriptors() throws {
        let environment = ProcessInfo.processInfo.environment
        let wanted = Int(environment["GANGLION_BOUNDS_LOGS"] ?? "") ?? 10_000
        // tmpfs when there is one: the figures are about threads and descriptors, not the disk.
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
        let root = base + "ganglion-bounds-" + UUID().uuidString
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)

        let threadsBefore = threadCount(), descriptorsBefore = descriptorCount()
        var logs: [PartitionLog] = []
        var failure: (any Error)?
        let deadline = Date(timeIntervalSinceNow: 45)  // bounded even where opening is slow
        var configuration = LogConfiguration()
        configuration.segmentBytes = 4096
        configuration.durability = .interval(.milliseconds(50))
        for index in 0..<wanted where Date() < deadline {
            do {
                let log = try PartitionLog(directory: "\(root)/p-\(index)", configuration: configuration)
                logs.append(log)
                try log.append(batch(1, from: index))
            } catch {
                failure = error
                break
            }
        }
        // The interval flush reaches every log through the shared flusher.
        let flushDeadline = Date(timeIntervalSinceNow: 20)
        while failure == nil, Date() < flushDeadline, logs.contains(where: { $0.durableEndOffset < 1 }) { usleep(20_000) }
        let unflushed = logs.filter { $0.durableEndOffset < 1 }.count
        let threads = threadCount(), descriptors = descriptorCount()
        print("resource bounds: \(logs.count) of \(wanted) logs open; threads \(threadsBefore) -> \(threads) (+\(threads - threadsBefore)), descriptors \(descriptorsBefore) -> \(descriptors) (+\(descriptors - descriptorsBefore)); \(unflushed) logs not yet flushed")

        // Every log still reads back (evicted segment files reopen on demand).
        var unreadable = 0
        for (index, log) in logs.enumerated() where failure == nil {
            if (try? log.records(from: 0).first?.key) != Array("k\(index)".utf8) { unreadable += 1 }
        }
        let descriptorsAfterReads = descriptorCount()
        print("resource bounds: after reading every log back, descriptors \(descriptorsAfterReads) (+\(descriptorsAfterReads - descriptorsBefore))")
        for log in logs { log.discard() }  // not close(): no 10 000 checkpoint writes

        XCTAssertNil(failure, "opening log \(logs.count) failed: \(failure.map { "\($0)" } ?? "")")
        XCTAssertEqual(logs.count, wanted, "only \(logs.count) logs opened within the time bound")
        XCTAssertEqual(unflushed, 0, "logs the interval flush never reached")
        XCTAssertEqual(unreadable, 0, "logs that did not read back")
        XCTAssertLessThanOrEqual(threads - threadsBefore, 8, "threads grow with the partition count")
        XCTAssertLessThanOrEqual(descriptors - descriptorsBefore, 1_100, "descriptors grow with the partition count")
        XCTAssertLessThanOrEqual(descriptorsAfterReads - descriptorsBefore, 1_100, "reads leave descriptors open past the bound")
    }
}
