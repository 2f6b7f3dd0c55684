@testable import EventLog

/// A record batch written field by field, valid or not, with a correct CRC over whatever it holds:
/// the tool for tests that must get hostile bytes past the checksum to the checks behind it.
struct RawBatch {
    /// One record's fields as they go on the wire; `length` replaces the computed length prefix.
    struct RawRecord {
        var length: Int64?
        var attributes: UInt8 = 0
        var timestampDelta: Int64 = 0
        var offsetDelta: Int64
        var keyLength: Int64? = nil
        var key: [UInt8]? = Array("k".utf8)
        var valueLength: Int64? = nil
        var value: [UInt8]? = Array("v".utf8)
        var headerCount: Int64? = nil
        var headers: [(key: [UInt8], value: [UInt8]?)] = []
        /// Bytes after the fields, inside the record's length.
        var trailing: [UInt8] = []

        /// The record's bytes after its length prefix.
        var body: [UInt8] {
            var bytes: [UInt8] = [attributes]
            Varint.append(timestampDelta, to: &bytes)
            Varint.append(offsetDelta, to: &bytes)
            Varint.append(keyLength ?? Int64(key?.count ?? -1), to: &bytes)
            bytes += key ?? []
            Varint.append(valueLength ?? Int64(value?.count ?? -1), to: &bytes)
            bytes += value ?? []
            Varint.append(headerCount ?? Int64(headers.count), to: &bytes)
            for header in headers {
                Varint.append(Int64(header.key.count), to: &bytes)
                bytes += header.key
                Varint.append(Int64(header.value?.count ?? -1), to: &bytes)
                bytes += header.value ?? []
            }
            return bytes + trailing
        }

        /// The record with its length prefix.
        var encoded: [UInt8] {
            let body = self.body
            var bytes: [UInt8] = []
            Varint.append(length ?? Int64(body.count), to: &bytes)
            return bytes + body
        }
    }

    var attributes: Int16 = 0
    var firstTimestamp: Int64 = 1_000
    var maxTimestamp: Int64? = nil
    var recordCount: Int32? = nil
    var lastOffsetDelta: Int32? = nil
    var producerID: Int64 = -1
    var producerEpoch: Int16 = -1
    var baseSequence: Int32 = -1
    var records: [RawRecord]

    /// `count` well-formed records (offset deltas 0…count-1, timestamps first + index).
    init(dense count: Int) {
        records = (0..<count).map { RawRecord(timestampDelta: Int64($0), offsetDelta: Int64($0)) }
    }

    /// The batch's bytes with a CRC32C matching them.
    var bytes: [UInt8] {
        let body = records.flatMap(\.encoded)
        var batch: [UInt8] = []
        batch.appendBigEndian(Int64(0))
        batch.appendBigEndian(Int32(RecordBatchLayout.headerSize - RecordBatchLayout.logOverhead + body.count))
        batch.appendBigEndian(Int32(0))
        batch.append(RecordBatchLayout.magic)
        batch.appendBigEndian(UInt32(0))
        batch.appendBigEndian(attributes)
        batch.appendBigEndian(lastOffsetDelta ?? Int32(max(0, records.count - 1)))
        batch.appendBigEndian(firstTimestamp)
        let newest = records.map { firstTimestamp &+ $0.timestampDelta }.max() ?? firstTimestamp
        batch.appendBigEndian(maxTimestamp ?? newest)
        batch.appendBigEndian(producerID)
        batch.appendBigEndian(producerEpoch)
        batch.appendBigEndian(baseSequence)
        batch.appendBigEndian(recordCount ?? Int32(records.count))
        batch += body
        batch.withUnsafeMutableBytes { bytes in
            bytes.storeBigEndian(RecordBatchHeader.computeCRC(UnsafeRawBufferPointer(bytes)), at: RecordBatchLayout.crc)
        }
        return batch
    }
}
