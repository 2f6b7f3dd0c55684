import Foundation
import GanglionTestKit
import XCTest
@testable import EventLog

/// A machine crash, not just a process crash: writes not yet fsynced are lost at the crash, or
/// torn at a random byte (``LogFaults``' LazyFS-style model), at a random file operation chosen
/// by a seed. After recovery every acknowledged record must read back where it was acknowledged,
/// once and in order. With fsync-every-batch it must; with OS-timed writeback the checker must
/// find acknowledged records lost (so this test can fail, which a SIGKILL test cannot: the page
/// cache survives a killed process).
///
/// `GANGLION_CRASH_SEEDS` sets how many seeds run (default 40), `GANGLION_CRASH_SEED` the first.
final class SimulatedCrashTests: XCTestCase {
    /// What the checker found after one crash and recovery (Jepsen's names).
    struct Check: CustomStringConvertible {
        var seed: UInt64
        var acknowledged = 0
        var recovered = 0
        /// Acknowledged records missing, or not at their acknowledged offset.
        var lost: [String] = []
        /// Records that read back more than once.
        var duplicated: [String] = []
        /// Records that read back out of the order they were appended in.
        var reordered: [String] = []
        var crash: LogFaults.CrashReport?
        var valid: Bool { lost.isEmpty && duplicated.isEmpty && reordered.isEmpty }

        var description: String {
            let at = crash?.operation.map { "before file operation \($0)" } ?? "after the last append"
            return "seed \(seed): crash \(at), \(acknowledged) acknowledged, \(recovered) recovered; "
                + "lost \(lost.count) \(lost.prefix(5)), duplicated \(duplicated.count) \(duplicated.prefix(5)), "
                + "reordered \(reordered.count) \(reordered.prefix(5)); files dropped \(crash?.dropped.count ?? 0), "
                + "torn \(crash?.torn.count ?? 0), kept \(crash?.kept.count ?? 0)"
        }
    }

    private var seeds: [UInt64] {
        let environment = ProcessInfo.processInfo.environment
        let count = Int(environment["GANGLION_CRASH_SEEDS"] ?? "") ?? 40
        let first = UInt64(environment["GANGLION_CRASH_SEED"] ?? "") ?? 1
        return (0..<UInt64(max(count, 1))).map { first + $0 }
    }

    /// Appends with acknowledgements under `policy` until the seeded crash, recovers, checks.
    private func crashAndCheck(_ policy: DurabilityPolicy, seed: UInt64) throws -> Check {
        var random = SeededGenerator(seed: seed)
        let directory = temporaryLogDirectory(self)
        let faults = LogFaults()
        var configuration = LogConfiguration()
        configuration.durability = policy
        configuration.segmentBytes = 4096  // rolls, so crashes land around them too
        configuration.indexIntervalBytes = 256
        configuration.faults = faults
        let log = try PartitionLog(directory: directory, configuration: configuration)
        let appends = 10 + Int(random.next() % 60)
        faults.scheduleCrash(beforeOperation: 1 + Int(random.next() % UInt64(appends * 3)), seed: random.next())

        var check = Check(seed: seed)
        var acknowledged: [(offset: Int64, value: String)] = []
        var sequence = 0
        for _ in 0..<appends {
            var builder = RecordBatchBuilder()
            var values: [String] = []
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let value = "r\(sequence)-" + String(repeating: "x", count: Int(random.next() % 300))
                values.append(value)
                builder.append(key: Array("k\(sequence % 5)".utf8), value: Array(value.utf8), timestamp: 1_000 + Int64(sequence))
                sequence += 1
            }
            guard let result = try? log.append(builder.build()) else { break }  // the crash
            acknowledged += values.enumerated().map { (result.firstOffset + Int64($0.offset), $0.element) }
        }
        check.crash = faults.crashed ?? faults.crash(seed: random.next())
        log.discard()

        var recoveryConfiguration = configuration
        recoveryConfiguration.faults = nil
        let recovered = try PartitionLog(directory: directory, configuration: recoveryConfiguration)
        defer { recovered.discard() }
        let records = try recovered.records(from: 0)
        check.acknowledged = acknowledged.count
        check.recovered = records.count
        let found = Dictionary(records.map { ($0.offset, String(decoding: $0.value ?? [], as: UTF8.self)) }, uniquingKeysWith: { first, _ in first })
        check.lost = acknowledged.filter { found[$0.offset] != $0.value }.map { "\($0.offset)" }
        var counts: [String: Int] = [:]
        var previous = -1
        for record in records {
            let value = String(decoding: record.value ?? [], as: UTF8.self)
            counts[value, default: 0] += 1
            let number = Int(value.dropFirst().prefix { $0 != "-" }) ?? -1
            if number <= previous { check.reordered.append("\(record.offset)") }
            previous = max(previous, number)
        }
        check.duplicated = counts.filter { $0.value > 1 }.map(\.key).sorted()
        return check
    }

    func testEveryAcknowledgedRecordSurvivesACrashWithFsyncEveryBatch() throws {
        var crashes = 0, acknowledged = 0
        for seed in seeds {
            let check = try crashAndCheck(.everyBatch, seed: seed)
            acknowledged += check.acknowledged
            if check.crash?.operation != nil { crashes += 1 }
            XCTAssertTrue(check.valid, "GANGLION_CRASH_SEED=\(seed) GANGLION_CRASH_SEEDS=1 replays: \(check)")
        }
        print("simulated crash, everyBatch: \(seeds.count) seeds from \(seeds[0]), \(crashes) crashes mid-run, \(acknowledged) records acknowledged, none lost")
    }

    func testTheCheckerFindsAcknowledgedRecordsLostWithoutFsync() throws {
        var losing: [Check] = []
        var acknowledged = 0, lost = 0
        for seed in seeds {
            let check = try crashAndCheck(.operatingSystem, seed: seed)
            acknowledged += check.acknowledged
            lost += check.lost.count
            if !check.lost.isEmpty { losing.append(check) }
            XCTAssertTrue(check.duplicated.isEmpty && check.reordered.isEmpty, "\(check)")
        }
        print("simulated crash, operatingSystem: \(seeds.count) seeds from \(seeds[0]), \(losing.count) lost acknowledged records (\(lost) of \(acknowledged)); first: \(losing.first.map { "\($0)" } ?? "none")")
        XCTAssertFalse(losing.isEmpty, "no seed lost an acknowledged record without fsync: the checker cannot fail")
    }

    func testACrashLosesOnlyWhatWasNotSynced() throws {
        let directory = temporaryLogDirectory(self)
        try LogDirectory.create(directory)
        var fates: Set<String> = []
        for seed in UInt64(1)...30 {
            let faults = LogFaults()
            let path = "\(directory)/file-\(seed)"
            let file = try LogFile(path: path, create: true, faults: faults)
            try Array("synced|".utf8).withUnsafeBytes { try file.write([$0], at: 0) }
            try file.sync()
            try Array("unsynced-one|".utf8).withUnsafeBytes { try file.write([$0], at: 7) }
            try Array("unsynced-two".utf8).withUnsafeBytes { try file.write([$0], at: 20) }
            let report = faults.crash(seed: seed)
            let contents = String(decoding: try file.read(at: 0, count: 100), as: UTF8.self)
            XCTAssertTrue("synced|unsynced-one|unsynced-two".hasPrefix(contents) && contents.hasPrefix("synced|"), "seed \(seed): \(contents)")
            if !report.dropped.isEmpty { XCTAssertEqual(contents, "synced|"); fates.insert("dropped") }
            if !report.kept.isEmpty { XCTAssertEqual(contents, "synced|unsynced-one|unsynced-two"); fates.insert("kept") }
            if !report.torn.isEmpty { fates.insert("torn") }
            assertLogError(.io) { try file.sync() }  // the crashed machine does no more I/O
        }
        XCTAssertEqual(fates, ["dropped", "torn", "kept"])
    }
}
