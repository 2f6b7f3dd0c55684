import Foundation
import GanglionTestKit
import XCTest
@testable import EventLog

/// Random sequences of append, read, roll, truncate, retention, compaction and reopen, checked
/// against a simple in-memory model after every step. A failure prints its seed and step.
final class LogModelPropertyTests: XCTestCase {
    /// The model: the batches the log should hold, each with its records.
    private struct Model {
        struct Batch { var base: Int64; var last: Int64; var records: [Record] }
        var batches: [Batch] = []
        var logStart: Int64 = 0
        var logEnd: Int64 = 0
        var records: [Record] { batches.flatMap(\.records).filter { $0.offset >= logStart } }
    }

    /// `GANGLION_LOG_SEED=n` replays one seed verbosely; `GANGLION_LOG_SEEDS=n` runs n seeds.
    private static let seeds: [UInt64] = ProcessInfo.processInfo.environment["GANGLION_LOG_SEED"].flatMap(UInt64.init).map { [$0] }
        ?? Array(1...(ProcessInfo.processInfo.environment["GANGLION_LOG_SEEDS"].flatMap(UInt64.init) ?? 150))
    private static let verbose = ProcessInfo.processInfo.environment["GANGLION_LOG_SEED"] != nil

    func testRandomOperationsMatchTheModel() throws {
        for seed in Self.seeds {
            try run(seed: seed, steps: 120)
        }
    }

    private func run(seed: UInt64, steps: Int) throws {
        var random = SeededGenerator(seed: seed)
        let directory = temporaryLogDirectory(self)
        let clock = ManualClock(1_000_000)
        var configuration = LogConfiguration()
        configuration.durability = [.operatingSystem, .everyBatch, .interval(.milliseconds(5))][Int(seed % 3)]
        configuration.segmentBytes = 1024 + Int(random.next() % 2048)
        configuration.indexIntervalBytes = 64 + Int(random.next() % 512)
        configuration.compacted = seed % 2 == 0
        configuration.retentionMilliseconds = nil
        configuration.retentionBytes = 4096 + Int(random.next() % 8192)
        configuration.tombstoneRetentionMilliseconds = 0
        var log = try PartitionLog(directory: directory, configuration: configuration, clock: clock.function)
        var model = Model()
        var operations: [String] = []
        func fail(_ message: String) -> String {
            "seed \(seed) step \(operations.count) after \(operations.suffix(6)): \(message)"
        }

        for _ in 0..<steps {
            let choice = random.next() % 100
            switch choice {
            case 0..<55:
                let count = 1 + Int(random.next() % 4)
                var builder = RecordBatchBuilder()
                var records: [Record] = []
                for index in 0..<count {
                    let key = Array("key\(random.next() % 6)".utf8)
                    let tombstone = random.next() % 10 == 0
                    let value = tombstone ? nil : [UInt8](repeating: UInt8(random.next() % 256), count: Int(random.next() % 120))
                    var record = Record(key: key, value: value, timestamp: clock.now - 10)
                    builder.append(record)
                    record.offset = model.logEnd + Int64(index)
                    records.append(record)
                }
                let result = try log.append(builder.build())
                XCTAssertEqual(result.firstOffset, model.logEnd, fail("append offset"))
                model.batches.append(.init(base: model.logEnd, last: model.logEnd + Int64(count - 1), records: records))
                model.logEnd += Int64(count)
                operations.append("append \(count)")
            case 55..<70:
                guard model.logEnd > model.logStart else { continue }
                let offset = model.logStart + Int64(random.next() % UInt64(model.logEnd - model.logStart))
                let maxBytes = 1 + Int(random.next() % 2000)
                let read = try log.read(from: offset, maxBytes: maxBytes)
                let decoded = try decode(read.bytes).filter { $0.offset >= offset }
                let expected = model.records.filter { $0.offset >= offset }
                // Whole batches: exactly the model's records below where the read says to go next,
                // and always progress (a compacted batch may hold nothing at or after `offset`).
                XCTAssertTrue(expected.isEmpty || read.nextOffset > offset, fail("read \(offset) made no progress"))
                XCTAssertEqual(decoded, expected.filter { $0.offset < read.nextOffset }, fail("read \(offset)"))
                operations.append("read \(offset) \(maxBytes)")
            case 70..<76:
                try log.rollSegment()
                operations.append("roll")
            case 76..<82:
                guard model.logEnd > model.logStart else { continue }
                let offset = model.logStart + Int64(random.next() % UInt64(model.logEnd - model.logStart))
                let newEnd = try log.truncate(to: offset)
                let cut = model.batches.firstIndex { $0.last >= offset } ?? model.batches.count
                let expectedEnd = cut < model.batches.count ? model.batches[cut].base : model.logEnd
                XCTAssertEqual(newEnd, max(expectedEnd, model.logStart), fail("truncate to \(offset)"))
                model.batches.removeSubrange(cut...)
                model.logEnd = newEnd
                operations.append("truncate \(offset)")
            case 82..<88:
                log.setHighWatermark(model.logEnd)
                let result = try log.applyRetention()
                let start = log.logStartOffset
                XCTAssertGreaterThanOrEqual(start, model.logStart, fail("retention moved the start back"))
                XCTAssertEqual(start, log.segmentBaseOffsets.first.map { max($0, model.logStart) }, fail("start is a segment base"))
                if !result.deletedSegments.isEmpty {
                    XCTAssertLessThanOrEqual(log.sizeInBytes - (result.deletedSegments.isEmpty ? 0 : 0), log.sizeInBytes)
                }
                model.logStart = start
                model.batches.removeAll { $0.last < start }
                operations.append("retention")
            case 88..<94 where configuration.compacted:
                let activeBase = log.segmentBaseOffsets.last!
                try log.compact()
                var latest: [[UInt8]: Int64] = [:]
                for record in model.batches.flatMap(\.records) { latest[record.key!] = record.offset }
                for index in model.batches.indices where model.batches[index].base < activeBase {
                    model.batches[index].records.removeAll { latest[$0.key!] != $0.offset || $0.value == nil }
                }
                model.batches.removeAll { $0.records.isEmpty && $0.base < activeBase }
                operations.append("compact")
            default:
                try log.close()
                log = try PartitionLog(directory: directory, configuration: configuration, clock: clock.function)
                XCTAssertEqual(log.recovery.truncatedBytes, 0, fail("a clean reopen cut bytes"))
                operations.append("reopen")
            }
            if Self.verbose {
                print("\(operations.last ?? "-"): end \(log.logEndOffset) start \(log.logStartOffset) segments \(log.segmentBaseOffsets) model batches \(model.batches.map { "\($0.base)-\($0.last)" })")
            }
            XCTAssertEqual(log.logEndOffset, model.logEnd, fail("log end"))
            XCTAssertEqual(log.logStartOffset, model.logStart, fail("log start"))
            let all = try log.records(from: model.logStart)
            guard all == model.records else {
                XCTFail(fail("contents differ: log \(all.map(\.offset)) model \(model.records.map(\.offset))"))
                return
            }
        }
        try log.close()
    }

    private func decode(_ bytes: [UInt8]) throws -> [Record] {
        try bytes.withUnsafeBytes { raw in
            var records: [Record] = []
            var position = 0
            while position < raw.count {
                let header = try RecordBatchHeader(parsing: UnsafeRawBufferPointer(rebasing: raw[position...]))
                records += try RecordDecoder.records(in: UnsafeRawBufferPointer(rebasing: raw[position..<(position + header.size)]))
                position += header.size
            }
            return records
        }
    }
}
