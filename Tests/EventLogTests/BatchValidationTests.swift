import XCTest
@testable import EventLog

/// A batch is checked whole on append — every record's framing, deltas, lengths and headers — so
/// nothing stored can trap a reader later; a refused batch stores nothing.
final class BatchValidationTests: XCTestCase {
    private func log(compacted: Bool = false) throws -> PartitionLog {
        var configuration = LogConfiguration()
        configuration.compacted = compacted
        return try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration)
    }

    /// Appends `bad` after one good batch and asserts it is refused with `code`, naming `reason`,
    /// and that the log still holds exactly the good batch.
    @discardableResult
    private func assertRefused(_ bad: RawBatch, _ code: LogError.Code = .malformedBatch, naming reason: String,
                               compacted: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws -> LogError? {
        let log = try log(compacted: compacted)
        defer { try? log.close() }
        try log.append(batch(2))
        let error = assertLogError(code, file: file, line: line) { try log.append(bad.bytes) }
        XCTAssertTrue(error?.message.contains(reason) ?? false, "\(error.map(\.message) ?? "no error") does not name \(reason)", file: file, line: line)
        XCTAssertEqual(log.endOffset, 2, "a refused batch stored something", file: file, line: line)
        XCTAssertEqual(try log.records(from: 0).map(\.offset), [0, 1], file: file, line: line)
        return error
    }

    func testTheRawBatchHelperWritesBatchesTheLogAccepts() throws {
        let log = try log()
        defer { try? log.close() }
        var good = RawBatch(dense: 3)
        good.records[1].headers = [(Array("h".utf8), nil)]
        try log.append(good.bytes)
        let records = try log.records(from: 0)
        XCTAssertEqual(records.map(\.timestamp), [1_000, 1_001, 1_002])
        XCTAssertEqual(records[1].headers.first?.key, "h")
    }

    func testARecordLengthNearInt64MaxIsRefusedNotTrapped() throws {
        var bad = RawBatch(dense: 1)
        bad.records[0].length = Int64.max - 3
        try assertRefused(bad, naming: "length")
    }

    func testAKeyOrValueLengthNearInt64MaxIsRefused() throws {
        var key = RawBatch(dense: 1)
        key.records[0].keyLength = Int64.max - 1
        try assertRefused(key, naming: "key length")
        var value = RawBatch(dense: 1)
        value.records[0].valueLength = Int64.max
        try assertRefused(value, naming: "value length")
    }

    func testAWildRecordCountIsRefusedBeforeAnythingIsReserved() throws {
        var bad = RawBatch(dense: 1)
        bad.recordCount = Int32.max
        bad.lastOffsetDelta = Int32.max - 1
        try assertRefused(bad, naming: "\(Int32.max) records")
    }

    func testARecordCountBelowTheRecordsPresentIsRefused() throws {
        var bad = RawBatch(dense: 3)
        bad.recordCount = 2
        bad.lastOffsetDelta = 1
        try assertRefused(bad, naming: "after its 2 records")
    }

    func testOffsetDeltasMustBeZeroToNMinusOneInOrder() throws {
        var repeated = RawBatch(dense: 3)
        repeated.records[2].offsetDelta = 1
        try assertRefused(repeated, naming: "offset delta 1")
        var negative = RawBatch(dense: 2)
        negative.records[0].offsetDelta = -5
        try assertRefused(negative, naming: "offset delta -5")
    }

    func testATimestampDeltaThatOverflowsIsRefused() throws {
        var bad = RawBatch(dense: 2)
        bad.firstTimestamp = Int64.max - 5
        bad.maxTimestamp = Int64.max
        bad.records[1].timestampDelta = 100
        try assertRefused(bad, naming: "timestamp")
        var under = RawBatch(dense: 1)
        under.firstTimestamp = Int64.min + 5
        under.records[0].timestampDelta = -100
        try assertRefused(under, naming: "timestamp")
    }

    func testATimestampAboveTheBatchMaximumIsRefused() throws {
        var above = RawBatch(dense: 3)
        above.maxTimestamp = 1_001
        try assertRefused(above, naming: "max timestamp")
        var stale = RawBatch(dense: 3)
        stale.maxTimestamp = 9_999
        try assertRefused(stale, naming: "max timestamp")
    }

    func testFieldsPastTheirRecordAreRefused() throws {
        var value = RawBatch(dense: 2)
        value.records[1].valueLength = 50
        try assertRefused(value, naming: "value length")
        var stray = RawBatch(dense: 2)
        stray.records[0].trailing = [1, 2, 3]
        try assertRefused(stray, naming: "3 bytes after its fields")
    }

    func testHeaderCountsAndHeaderKeysAreBounded() throws {
        var count = RawBatch(dense: 1)
        count.records[0].headerCount = 5_000
        try assertRefused(count, naming: "header count")
        var negative = RawBatch(dense: 1)
        negative.records[0].headerCount = -1
        try assertRefused(negative, naming: "header count")
        var nullKey = RawBatch(dense: 1)
        nullKey.records[0].headerCount = 1
        nullKey.records[0].trailing = [1, 1]  // key length -1 (null), value length -1
        try assertRefused(nullKey, naming: "header 0 has a null key")
        var badName = RawBatch(dense: 1)
        badName.records[0].headers = [([0xFF, 0xFE], nil)]
        try assertRefused(badName, naming: "UTF-8")
    }

    func testCompressedAndControlBatchesAreRefused() throws {
        var gzip = RawBatch(dense: 1)
        gzip.attributes = 1
        try assertRefused(gzip, naming: "compression")
        var control = RawBatch(dense: 1)
        control.attributes = 1 << 5
        try assertRefused(control, naming: "attribute")
    }

    func testAnOversizedRecordIsRecordTooLarge() throws {
        var configuration = LogConfiguration()
        configuration.maxRecordBytes = 100
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration)
        defer { try? log.close() }
        var big = RawBatch(dense: 1)
        big.records[0].value = [UInt8](repeating: 7, count: 200)
        let error = assertLogError(.recordTooLarge) { try log.append(big.bytes) }
        XCTAssertTrue(error?.message.contains("record 0") ?? false)
    }

    func testTheDecoderThrowsOnHostileBytesInsteadOfTrapping() throws {
        // Bytes that reach a reader without passing append (a damaged file, a hostile stream).
        var length = RawBatch(dense: 1)
        length.records[0].length = Int64.max - 3
        var timestamp = RawBatch(dense: 2)
        timestamp.firstTimestamp = Int64.max - 5
        timestamp.maxTimestamp = Int64.max
        timestamp.records[1].timestampDelta = 100
        var count = RawBatch(dense: 1)
        count.recordCount = Int32.max
        count.lastOffsetDelta = Int32.max - 1
        for bad in [length, timestamp, count] {
            assertLogError(.malformedBatch) { try bad.bytes.withUnsafeBytes { try RecordDecoder.records(in: $0) } }
        }
    }
}
