import XCTest
@testable import EventLog

/// The batch format: builder and decoder agree, and damage is detected.
final class RecordBatchTests: XCTestCase {
    func testBuiltBatchDecodesToItsRecords() throws {
        var builder = RecordBatchBuilder()
        builder.producerID = 7
        builder.baseSequence = 40
        builder.append(Record(key: Array("a".utf8), value: Array("one".utf8), timestamp: 100, headers: [("trace", Array("x".utf8))]))
        builder.append(key: nil, value: nil, timestamp: 90)
        builder.append(key: Array("c".utf8), value: [UInt8](repeating: 9, count: 1000), timestamp: 250)
        let bytes = builder.build()
        let header = try bytes.withUnsafeBytes { try RecordBatchHeader.validate($0, maxBatchBytes: 1 << 20) }
        XCTAssertEqual(header.recordCount, 3)
        XCTAssertEqual(header.lastOffsetDelta, 2)
        XCTAssertEqual(header.firstTimestamp, 100)
        XCTAssertEqual(header.maxTimestamp, 250)
        XCTAssertEqual(header.producerID, 7)
        XCTAssertEqual(header.baseSequence, 40)
        let records = try bytes.withUnsafeBytes { try RecordDecoder.records(in: $0) }
        XCTAssertEqual(records.map(\.offset), [0, 1, 2])
        XCTAssertEqual(records[0].headers.first?.key, "trace")
        XCTAssertNil(records[1].key)
        XCTAssertNil(records[1].value)
        XCTAssertEqual(records[1].timestamp, 90)
        XCTAssertEqual(records[2].value?.count, 1000)
    }

    func testEveryFlippedByteOfTheChecksummedPartIsDetected() throws {
        let bytes = batch(3)
        for position in RecordBatchLayout.attributes..<bytes.count {
            var damaged = bytes
            damaged[position] ^= 0x01
            XCTAssertThrowsError(try damaged.withUnsafeBytes { try RecordBatchHeader.validate($0, maxBatchBytes: 1 << 20) },
                                 "flip at \(position) went unnoticed")
        }
    }

    func testMalformedBatchesAreRefusedWithAReason() {
        assertLogError(.malformedBatch) { try [UInt8](repeating: 0, count: 10).withUnsafeBytes { try RecordBatchHeader(parsing: $0) } }
        var wrongMagic = batch(1)
        wrongMagic[RecordBatchLayout.magicAt] = 1
        let error = assertLogError(.malformedBatch) { try wrongMagic.withUnsafeBytes { try RecordBatchHeader.validate($0, maxBatchBytes: 1 << 20) } }
        XCTAssertTrue(error?.message.contains("magic") ?? false)
        assertLogError(.tooLarge) { try batch(100).withUnsafeBytes { try RecordBatchHeader.validate($0, maxBatchBytes: 200) } }
        let truncated = Array(batch(2).dropLast(3))
        assertLogError(.malformedBatch) { try truncated.withUnsafeBytes { try RecordBatchHeader.validate($0, maxBatchBytes: 1 << 20) } }
    }

    func testCRC32CMatchesTheStandardCheckValue() {
        // The CRC-32C check value of "123456789" is 0xE3069283.
        XCTAssertEqual(Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) }, 0xE306_9283)
    }
}
