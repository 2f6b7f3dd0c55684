/// The layout of a record batch: Kafka's v2 format (magic 2), big-endian.
///
/// ```
///  0 baseOffset i64 · 8 batchLength i32 (bytes after this field) · 12 leaderEpoch i32 ·
/// 16 magic i8 = 2 · 17 crc u32 (CRC32C of bytes 21…end) · 21 attributes i16 ·
/// 23 lastOffsetDelta i32 · 27 firstTimestamp i64 · 35 maxTimestamp i64 · 43 producerId i64 ·
/// 51 producerEpoch i16 · 53 baseSequence i32 · 57 recordCount i32 · 61 records…
/// ```
/// The CRC leaves out the base offset and leader epoch, so the log assigns both without
/// touching — or re-checksumming — the bytes a producer sent.
public enum RecordBatchLayout {
    /// Size of the fixed header.
    public static let headerSize = 61
    /// The magic byte of this format.
    public static let magic: UInt8 = 2
    static let baseOffset = 0, batchLength = 8, leaderEpoch = 12, magicAt = 16, crc = 17
    static let attributes = 21, lastOffsetDelta = 23, firstTimestamp = 27, maxTimestamp = 35
    static let producerID = 43, producerEpoch = 51, baseSequence = 53, recordCount = 57
    /// Bytes before `batchLength`'s payload begins (baseOffset + batchLength).
    static let logOverhead = 12
}

/// The header fields of one stored or incoming record batch.
public struct RecordBatchHeader: Sendable, Hashable {
    /// Offset of the first record.
    public var baseOffset: Int64
    /// Total size of the batch in bytes, header included.
    public var size: Int
    /// Epoch of the leader that appended the batch.
    public var leaderEpoch: Int32
    /// The stored CRC32C.
    public var crc: UInt32
    /// Batch attributes (bit 5: control batch; others reserved, 0).
    public var attributes: Int16
    /// Offset of the last record minus `baseOffset` (kept when compaction removes records).
    public var lastOffsetDelta: Int32
    /// Timestamp (ms since the epoch) of the first record.
    public var firstTimestamp: Int64
    /// Largest record timestamp in the batch.
    public var maxTimestamp: Int64
    /// Idempotent producer id (-1 when none).
    public var producerID: Int64
    /// Producer epoch (-1 when none).
    public var producerEpoch: Int16
    /// Producer sequence number of the first record (-1 when none).
    public var baseSequence: Int32
    /// Number of records in the batch.
    public var recordCount: Int32

    /// Offset of the last record.
    public var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }
    /// Offset just after the batch.
    public var nextOffset: Int64 { lastOffset + 1 }
}

extension RecordBatchHeader {
    /// Parses the header at the start of `bytes` (which must hold at least ``RecordBatchLayout/headerSize``).
    /// Checks the framing only; see ``validate(_:maxBatchBytes:)`` for the CRC.
    public init(parsing bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count >= RecordBatchLayout.headerSize else {
            throw LogError(.malformedBatch, "a batch needs a \(RecordBatchLayout.headerSize)-byte header, got \(bytes.count) bytes")
        }
        typealias L = RecordBatchLayout
        baseOffset = bytes.loadBigEndian(at: L.baseOffset, as: Int64.self)
        let length = bytes.loadBigEndian(at: L.batchLength, as: Int32.self)
        size = Int(length) + L.logOverhead
        leaderEpoch = bytes.loadBigEndian(at: L.leaderEpoch, as: Int32.self)
        let magic = bytes[L.magicAt]
        crc = bytes.loadBigEndian(at: L.crc, as: UInt32.self)
        attributes = bytes.loadBigEndian(at: L.attributes, as: Int16.self)
        lastOffsetDelta = bytes.loadBigEndian(at: L.lastOffsetDelta, as: Int32.self)
        firstTimestamp = bytes.loadBigEndian(at: L.firstTimestamp, as: Int64.self)
        maxTimestamp = bytes.loadBigEndian(at: L.maxTimestamp, as: Int64.self)
        producerID = bytes.loadBigEndian(at: L.producerID, as: Int64.self)
        producerEpoch = bytes.loadBigEndian(at: L.producerEpoch, as: Int16.self)
        baseSequence = bytes.loadBigEndian(at: L.baseSequence, as: Int32.self)
        recordCount = bytes.loadBigEndian(at: L.recordCount, as: Int32.self)
        guard magic == RecordBatchLayout.magic else {
            throw LogError(.malformedBatch, "batch magic is \(magic), expected \(RecordBatchLayout.magic)")
        }
        guard length >= Int32(L.headerSize - L.logOverhead) else {
            throw LogError(.malformedBatch, "batch length \(length) is shorter than its header")
        }
        guard recordCount >= 0, lastOffsetDelta >= 0, lastOffsetDelta >= recordCount - 1 || recordCount == 0 else {
            throw LogError(.malformedBatch, "batch counts are inconsistent: \(recordCount) records, last offset delta \(lastOffsetDelta)")
        }
    }

    /// The CRC32C of a whole batch's checksummed part.
    static func computeCRC(_ batch: UnsafeRawBufferPointer) -> UInt32 {
        CRC32C.checksum(UnsafeRawBufferPointer(rebasing: batch[RecordBatchLayout.attributes...]))
    }

    /// Parses and fully checks one whole batch: framing, size limit and CRC.
    public static func validate(_ batch: UnsafeRawBufferPointer, maxBatchBytes: Int) throws -> RecordBatchHeader {
        let header = try RecordBatchHeader(parsing: batch)
        guard header.size <= maxBatchBytes else {
            throw LogError(.tooLarge, "batch of \(header.size) bytes exceeds the limit of \(maxBatchBytes) bytes")
        }
        guard header.size == batch.count else {
            throw LogError(.malformedBatch, "batch length field says \(header.size) bytes, got \(batch.count)")
        }
        let computed = computeCRC(batch)
        guard computed == header.crc else {
            throw LogError(.malformedBatch, "batch CRC32C mismatch: stored \(header.crc), computed \(computed)")
        }
        return header
    }
}

/// A producer's batch as the log stores it: the same bytes with the base offset and leader epoch
/// the log assigned (both outside the CRC, so the checksum still holds).
public enum StoredBatch {
    /// Copies `batch` into `destination` (as many bytes) carrying `baseOffset` and `leaderEpoch`
    /// (what fetch returns for it), written where it is needed (a frame's buffer).
    public static func write(_ batch: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, baseOffset: Int64, leaderEpoch: Int32) {
        precondition(destination.count == batch.count, "a stored batch is as long as the batch")
        guard let source = batch.baseAddress, let target = destination.baseAddress else { return }
        target.copyMemory(from: source, byteCount: batch.count)
        guard batch.count >= RecordBatchLayout.magicAt else { return }
        destination.storeBigEndian(baseOffset, at: RecordBatchLayout.baseOffset)
        destination.storeBigEndian(leaderEpoch, at: RecordBatchLayout.leaderEpoch)
    }

    /// The leader epoch a stored batch carries (nil: too short to hold one).
    public static func leaderEpoch(_ batch: UnsafeRawBufferPointer) -> Int32? {
        guard batch.count >= RecordBatchLayout.magicAt else { return nil }
        return batch.loadBigEndian(at: RecordBatchLayout.leaderEpoch, as: Int32.self)
    }
}
