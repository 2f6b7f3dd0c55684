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
        let maxTimestamp = records.map(\.timestamp).max() ?? 0
        var body: [UInt8] = []
        body.reserveCapacity(records.reduce(0) { $0 + ($1.value?.count ?? 0) + ($1.key?.count ?? 0) + 16 })
        var scratch: [UInt8] = []
        for (index, record) in records.enumerated() {
            scratch.removeAll(keepingCapacity: true)
            scratch.append(0)
            Varint.append(record.timestamp - firstTimestamp, to: &scratch)
            Varint.append(record.offset >= 0 ? record.offset - baseOffset : Int64(index), to: &scratch)
            for field in [record.key, record.value] {
                if let field {
                    Varint.append(Int64(field.count), to: &scratch)
                    scratch.append(contentsOf: field)
                } else {
                    Varint.append(-1, to: &scratch)
                }
            }
            Varint.append(Int64(record.headers.count), to: &scratch)
            for header in record.headers {
                Varint.append(Int64(header.key.utf8.count), to: &scratch)
                scratch.append(contentsOf: header.key.utf8)
                if let value = header.value {
                    Varint.append(Int64(value.count), to: &scratch)
                    scratch.append(contentsOf: value)
                } else {
                    Varint.append(-1, to: &scratch)
                }
            }
            Varint.append(Int64(scratch.count), to: &body)
            body.append(contentsOf: scratch)
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
}
