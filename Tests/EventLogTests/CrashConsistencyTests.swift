import Foundation
import GanglionTestKit
import XCTest
@testable import EventLog

/// A real child process appends with fsync-every-batch and reports each acknowledged offset; it
/// is killed with SIGKILL at random moments, many times. After every kill the log is reopened
/// and every acknowledged record must be there and intact, and nothing half-written served.
final class CrashConsistencyTests: XCTestCase {
    /// The value the writer stores at `offset` (mirrors `EventLogCrashWriter`).
    private func expectedValue(at offset: Int64) -> [UInt8] {
        Array("record-\(offset)-".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: offset), count: Int(offset % 200))
    }

    /// The writer, built next to the test product (`.build/<configuration>/`).
    private var writerURL: URL? {
        let bundle = Bundle(for: Self.self).bundleURL
        return [bundle, bundle.deletingLastPathComponent()]
            .map { $0.appendingPathComponent("EventLogCrashWriter") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    func testEveryAcknowledgedRecordSurvivesSIGKILL() throws {
        let writerURL = try XCTUnwrap(writerURL, "EventLogCrashWriter is not built next to \(Bundle(for: Self.self).bundleURL.path)")
        let environment = ProcessInfo.processInfo.environment
        let seed = UInt64(environment["GANGLION_CRASH_SEED"] ?? "") ?? (environment["CI"] == "true" ? 20_261_121 : UInt64.random(in: 1...1_000_000))
        let kills = Int(ProcessInfo.processInfo.environment["GANGLION_CRASH_KILLS"] ?? "") ?? 25
        print("crash consistency: seed \(seed), \(kills) kills (GANGLION_CRASH_SEED=\(seed) replays the delays)")
        var random = SeededGenerator(seed: seed)
        let directory = temporaryLogDirectory(self)
        var highestAck: Int64 = -1
        var totalTruncated = 0

        for round in 0..<kills {
            let writer = Process()
            writer.executableURL = writerURL
            writer.arguments = [directory, String(random.next() % 1_000_000)]
            let output = Pipe()
            writer.standardOutput = output
            try writer.run()
            // Let it append for a while, then kill it mid-flight, mid-batch or mid-fsync.
            usleep(useconds_t(20_000 + random.next() % 150_000))
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
            XCTAssertEqual(writer.terminationReason, .uncaughtSignal, "round \(round): the writer died on its own")
            let acks = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .split(separator: "\n").compactMap { line -> Int64? in
                    guard line.hasPrefix("ack ") else { return nil }
                    return Int64(line.dropFirst(4))
                }
            highestAck = max(highestAck, acks.last ?? -1)

            var configuration = LogConfiguration()
            configuration.segmentBytes = 64 * 1024
            configuration.durability = .everyBatch
            let log = try PartitionLog(directory: directory, configuration: configuration)
            totalTruncated += log.recovery.truncatedBytes
            XCTAssertTrue(log.recovery.corruptPositions.isEmpty, "round \(round): corruption in the middle after a crash")
            XCTAssertGreaterThan(log.logEndOffset, highestAck, "seed \(seed) round \(round): acknowledged offset \(highestAck) lost")
            // Every record is intact and holds what was written at its offset; offsets are dense.
            let records = try log.records(from: 0)
            XCTAssertEqual(records.count, Int(log.logEndOffset), "seed \(seed) round \(round)")
            for record in records where record.value != expectedValue(at: record.offset) {
                XCTFail("seed \(seed) round \(round): record \(record.offset) does not hold what was written")
                break
            }
            try log.close()
        }
        print("crash consistency: \(kills) kills, \(highestAck + 1) records acknowledged, \(totalTruncated) torn bytes cut in recovery")
        XCTAssertGreaterThan(highestAck, 0)
    }
}
