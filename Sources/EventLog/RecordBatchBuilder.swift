/// Encodes records into one batch in the stored format, ready to append (producers and tools
/// build batches; the log only checks and stores them).
public struct RecordBatchBuilder: Sendable {
    /// Idempotent producer id (-1: none).
    public var producerID: Int64 = -1
    /// Producer epoch (-1: none).
    public var producerEpoch: Int16 = -1
    /// Sequence number of the first record (-1: none).
    public var baseSequence: Int32 = -1
    private var records: [Record] = []

    /// An empty builder.
    public init() {}

    /// The number of records added.
    public var count: Int { records.count }

    /// Adds a record; its offset will be its position in the batch.
    public mutating func append(_ record: Record) { records.append(record) }

    /// Adds a record with the given key, value and timestamp.
    public mutating func append(key: [UInt8]?, value: [UInt8]?, timestamp: Int64) {
        records.append(Record(key: key, value: value, timestamp: timestamp))
    }

    /// The encoded batch (base offset 0 and leader epoch 0: the log assigns both).
    public func build() -> [UInt8] {
        Self.encode(records, baseOffset: 0, lastOffsetDelta: nil, producerID: producerID,
                    producerEpoch: producerEpoch, baseSequence: baseSequence, leaderEpoch: 0)
    }

    /// Encodes records whose offsets are already assigned (compaction keeps their offsets and the
    /// batch's original last offset).
    static func encode(
        _ records: [Record], baseOffset: Int64, lastOffsetDelta: Int32?, producerID: Int64, producerEpoch: Int16,
        baseSequence: Int32, leaderEpoch: Int32
    ) -> [UInt8] {
        let firstTimestamp = records.first?.timestamp ?? 0
        var maxTimestamp = records.first?.timestamp ?? 0
        var bodySize = 0
        for record in records {
            maxTimestamp = max(maxTimestamp, record.timestamp)
            bodySize += (record.value?.count ?? 0) + (record.key?.count ?? 0) + 16
        }
        var body: [UInt8] = []
        body.reserveCapacity(bodySize)
        // Each record is written in place after its length, which is worked out first (no
        // scratch copy and no array per record).
        for (index, record) in records.enumerated() {
            let timestampDelta = record.timestamp - firstTimestamp
            let offsetDelta = record.offset >= 0 ? record.offset - baseOffset : Int64(index)
            var length = 1 + Varint.size(timestampDelta) + Varint.size(offsetDelta)
            length += Self.fieldSize(record.key) + Self.fieldSize(record.value) + Varint.size(Int64(record.headers.count))
            for header in record.headers {
                length += Varint.size(Int64(header.key.utf8.count)) + header.key.utf8.count + Self.fieldSize(header.value)
            }
            Varint.append(Int64(length), to: &body)
            body.append(0)
            Varint.append(timestampDelta, to: &body)
            Varint.append(offsetDelta, to: &body)
            Self.appendField(record.key, to: &body)
            Self.appendField(record.value, to: &body)
            Varint.append(Int64(record.headers.count), to: &body)
            for header in record.headers {
                Varint.append(Int64(header.key.utf8.count), to: &body)
                body.append(contentsOf: header.key.utf8)
                Self.appendField(header.value, to: &body)
            }
        }
        let lastDelta = lastOffsetDelta ?? Int32(max(0, records.count - 1))
        var batch: [UInt8] = []
        batch.reserveCapacity(RecordBatchLayout.headerSize + body.count)
        batch.appendBigEndian(baseOffset)
        batch.appendBigEndian(Int32(RecordBatchLayout.headerSize - RecordBatchLayout.logOverhead + body.count))
        batch.appendBigEndian(leaderEpoch)
        batch.append(RecordBatchLayout.magic)
        batch.appendBigEndian(UInt32(0))  // CRC, filled below
        batch.appendBigEndian(Int16(0))
        batch.appendBigEndian(lastDelta)
        batch.appendBigEndian(firstTimestamp)
        batch.appendBigEndian(maxTimestamp)
        batch.appendBigEndian(producerID)
        batch.appendBigEndian(producerEpoch)
        batch.appendBigEndian(baseSequence)
        batch.appendBigEndian(Int32(records.count))
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
