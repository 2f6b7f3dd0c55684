import Foundation
import GanglionTestKit
import XCTest
@testable import EventLog

/// A mutation fuzzer over the batch check and the record decoder, seeded from valid batches:
/// every mutated batch is refused with a ``LogError`` or accepted, an accepted batch decodes
/// whole within the limits the check promises, and the decoder never traps on any bytes.
/// Mutated batches are resealed with a correct CRC most of the time, so the fuzzer reaches the
/// checks behind the checksum. `GANGLION_FUZZ_ITERATIONS=n` runs longer; a failure prints its seed.
final class BatchFuzzTests: XCTestCase {
    private static let iterations = Int(ProcessInfo.processInfo.environment["GANGLION_FUZZ_ITERATIONS"] ?? "") ?? 20_000

    private static func corpus() -> [[UInt8]] {
        var withHeaders = RecordBatchBuilder()
        withHeaders.append(Record(key: Array("a".utf8), value: Array("one".utf8), timestamp: 100, headers: [("trace", Array("x".utf8)), ("n", nil)]))
        withHeaders.append(key: nil, value: nil, timestamp: 90)
        withHeaders.append(key: Array("c".utf8), value: [UInt8](repeating: 9, count: 300), timestamp: 250)
        var idempotent = RecordBatchBuilder()
        idempotent.producerID = 3
        idempotent.producerEpoch = 1
        idempotent.baseSequence = 17
        idempotent.append(key: Array("k".utf8), value: Array("v".utf8), timestamp: 1_700_000_000_000)
        return [withHeaders.build(), idempotent.build(), batch(1), batch(12, valueSize: 3)]
    }

    /// `bytes` with its length field and CRC made consistent again (when long enough).
    private static func reseal(_ bytes: [UInt8], length: Bool) -> [UInt8] {
        guard bytes.count >= RecordBatchLayout.headerSize else { return bytes }
        var bytes = bytes
        let batchLength = Int32(bytes.count - RecordBatchLayout.logOverhead)
        bytes.withUnsafeMutableBytes { raw in
            if length { raw.storeBigEndian(batchLength, at: RecordBatchLayout.batchLength) }
            raw.storeBigEndian(RecordBatchHeader.computeCRC(UnsafeRawBufferPointer(raw)), at: RecordBatchLayout.crc)
        }
        return bytes
    }

    func testMutatedBatchesAreRefusedOrDecodeWhole() throws {
        let seed = FuzzSeed.current(ci: 20_261_205)
        var random = SeededGenerator(seed: seed)
        let corpus = Self.corpus()
        let limits = RecordLimits(maxRecordBytes: 1 << 20)
        var accepted = 0, refused = 0
        for iteration in 0..<Self.iterations {
            var bytes = FuzzMutation.mutate(corpus[Int(random.next() % UInt64(corpus.count))], &random)
            if random.next() % 8 != 0 { bytes = Self.reseal(bytes, length: random.next() % 2 == 0) }
            let context = "seed \(seed) iteration \(iteration): \(bytes)"
            do {
                let header = try bytes.withUnsafeBytes { raw -> RecordBatchHeader in
                    let header = try RecordBatchHeader.validate(raw, maxBatchBytes: 1 << 20)
                    try header.checkRecords(of: raw, limits: limits)
                    return header
                }
                let records = try bytes.withUnsafeBytes { try RecordDecoder.records(in: $0) }
                XCTAssertEqual(records.count, Int(header.recordCount), context)
                XCTAssertEqual(records.map(\.offset), (0..<Int64(header.recordCount)).map { header.baseOffset + $0 }, context)
                XCTAssertEqual(records.map(\.timestamp).max(), header.maxTimestamp, context)
                accepted += 1
            } catch is LogError {
                refused += 1
            }
            // The decoder alone, on the same bytes: errors, never a trap.
            _ = try? bytes.withUnsafeBytes { try RecordDecoder.records(in: $0) }
            _ = try? RecordDecoder.records(inBatches: bytes)
        }
        XCTAssertGreaterThan(refused, Self.iterations / 4, "the fuzzer reaches the checks")
        XCTAssertGreaterThan(accepted, 0, "some mutations stay valid (keys, values, timestamps)")
    }

    func testALogFedMutatedBatchesStoresOnlyWhatDecodes() throws {
        let seed = FuzzSeed.current(ci: 20_261_206)
        var random = SeededGenerator(seed: seed)
        let corpus = Self.corpus()
        let log = try PartitionLog(directory: temporaryLogDirectory(self))
        defer { try? log.close() }
        var stored = 0
        for _ in 0..<min(Self.iterations, 3_000) {
            let bytes = Self.reseal(FuzzMutation.mutate(corpus[Int(random.next() % UInt64(corpus.count))], &random), length: true)
            if let appended = try? log.append(bytes), !appended.duplicate { stored += Int(appended.lastOffset - appended.firstOffset + 1) }
        }
        let records = try log.records(from: 0)
        XCTAssertEqual(records.count, stored, "seed \(seed)")
        XCTAssertEqual(records.map(\.offset), Array(0..<Int64(stored)), "seed \(seed)")
    }
}
