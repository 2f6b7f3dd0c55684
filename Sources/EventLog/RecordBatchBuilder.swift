/// Encodes records into one batch in the stored format, ready to append (producers and tools
/// build batches; the log only checks and stores them).
public struct RecordBatchBuilder: Sendable {
    /// Idempotent producer id (-1: none).
    public var producerID: Int64 = -1
    /// Producer epoch (-1: none).
    public var producerEpoch: Int16 = -1
    /// Sequence number of the first record (-1: none).
    public var baseSequence: Int32 = -1
    /// The records written so far, each in its stored layout (length, attributes, deltas, key,
    /// value, headers): a record costs no copy of itself, only its bytes.
    private var body: [UInt8] = []
    private var firstTimestamp: Int64 = 0
    private var maxTimestamp: Int64 = 0
    /// The number of records added.
    public private(set) var count = 0

    /// An empty builder.
    public init() {}

    /// Adds a record; its offset will be its position in the batch (or the record's own offset,
    /// when it has one).
    public mutating func append(_ record: Record) {
        write(key: record.key, value: record.value, timestamp: record.timestamp,
              offsetDelta: record.offset >= 0 ? record.offset : Int64(count), headers: record.headers)
    }

    /// Adds a record with the given key, value and timestamp.
    public mutating func append(key: [UInt8]?, value: [UInt8]?, timestamp: Int64) {
        write(key: key, value: value, timestamp: timestamp, offsetDelta: Int64(count), headers: [])
    }

    /// The encoded batch (base offset 0 and leader epoch 0: the log assigns both).
    public func build() -> [UInt8] {
        frame(baseOffset: 0, lastOffsetDelta: Int32(max(0, count - 1)), leaderEpoch: 0)
    }

    /// Encodes records whose offsets are already assigned (compaction keeps their offsets and the
    /// batch's original last offset).
    static func encode(
        _ records: [Record], baseOffset: Int64, lastOffsetDelta: Int32?, producerID: Int64, producerEpoch: Int16,
        baseSequence: Int32, leaderEpoch: Int32
    ) -> [UInt8] {
        var builder = RecordBatchBuilder()
        builder.producerID = producerID
        builder.producerEpoch = producerEpoch
        builder.baseSequence = baseSequence
        builder.body.reserveCapacity(records.reduce(0) { $0 + ($1.value?.count ?? 0) + ($1.key?.count ?? 0) + 16 })
        for (index, record) in records.enumerated() {
            builder.write(key: record.key, value: record.value, timestamp: record.timestamp,
                          offsetDelta: record.offset >= 0 ? record.offset - baseOffset : Int64(index), headers: record.headers)
        }
        return builder.frame(baseOffset: baseOffset, lastOffsetDelta: lastOffsetDelta ?? Int32(max(0, records.count - 1)), leaderEpoch: leaderEpoch)
    }

    /// Writes one record in place after its length, which is worked out first (no scratch copy).
    private mutating func write(key: [UInt8]?, value: [UInt8]?, timestamp: Int64, offsetDelta: Int64, headers: [(key: String, value: [UInt8]?)]) {
        if count == 0 {
            firstTimestamp = timestamp
            maxTimestamp = timestamp
        } else {
            maxTimestamp = max(maxTimestamp, timestamp)
        }
        count += 1
        let timestampDelta = timestamp - firstTimestamp
        var length = 1 + Varint.size(timestampDelta) + Varint.size(offsetDelta)
        length += Self.fieldSize(key) + Self.fieldSize(value) + Varint.size(Int64(headers.count))
        for header in headers {
            length += Varint.size(Int64(header.key.utf8.count)) + header.key.utf8.count + Self.fieldSize(header.value)
        }
        Varint.append(Int64(length), to: &body)
        body.append(0)
        Varint.append(timestampDelta, to: &body)
        Varint.append(offsetDelta, to: &body)
        Self.appendField(key, to: &body)
        Self.appendField(value, to: &body)
        Varint.append(Int64(headers.count), to: &body)
        for header in headers {
            Varint.append(Int64(header.key.utf8.count), to: &body)
            body.append(contentsOf: header.key.utf8)
            Self.appendField(header.value, to: &body)
        }
    }

    /// The batch header before the records written, its CRC filled in.
    private func frame(baseOffset: Int64, lastOffsetDelta: Int32, leaderEpoch: Int32) -> [UInt8] {
        var batch: [UInt8] = []
        batch.reserveCapacity(RecordBatchLayout.headerSize + body.count)
        batch.appendBigEndian(baseOffset)
        batch.appendBigEndian(Int32(RecordBatchLayout.headerSize - RecordBatchLayout.logOverhead + body.count))
        batch.appendBigEndian(leaderEpoch)
        batch.append(RecordBatchLayout.magic)
        batch.appendBigEndian(UInt32(0))  // CRC, filled below
        batch.appendBigEndian(Int16(0))
        batch.appendBigEndian(lastOffsetDelta)
        batch.appendBigEndian(firstTimestamp)
        batch.appendBigEndian(maxTimestamp)
        batch.appendBigEndian(producerID)
        batch.appendBigEndian(producerEpoch)
        batch.appendBigEndian(baseSequence)
        batch.appendBigEndian(Int32(count))
        batch.append(contentsOf: body)
        batch.withUnsafeMutableBytes { bytes in
            let crc = RecordBatchHeader.computeCRC(UnsafeRawBufferPointer(bytes))
            bytes.storeBigEndian(crc, at: RecordBatchLayout.crc)
        }
        return batch
    }

    /// The encoded size of a length-prefixed field (-1 for nil).
    private static func fieldSize(_ field: [UInt8]?) -> Int {
        guard let field else { return Varint.size(-1) }
        return Varint.size(Int64(field.count)) + field.count
    }

    /// Appends a length-prefixed field (-1 for nil).
    private static func appendField(_ field: [UInt8]?, to bytes: inout [UInt8]) {
        guard let field else { return Varint.append(-1, to: &bytes) }
        Varint.append(Int64(field.count), to: &bytes)
        bytes.append(contentsOf: field)
    }
}
