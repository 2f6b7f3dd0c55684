/// The limits a whole-batch check enforces on each record.
public struct RecordLimits: Sendable, Hashable {
    /// The largest record, in bytes (its length prefix's value).
    public var maxRecordBytes: Int
    /// Every record must have a key (a compacted log).
    public var requireKeys: Bool
    /// The most headers one record may carry.
    public var maxHeaders: Int

    /// Limits of `maxRecordBytes` per record, keys required or not, at most `maxHeaders` headers.
    public init(maxRecordBytes: Int, requireKeys: Bool = false, maxHeaders: Int = RecordLimits.defaultMaxHeaders) {
        self.maxRecordBytes = maxRecordBytes
        self.requireKeys = requireKeys
        self.maxHeaders = maxHeaders
    }

    /// The default bound on headers per record.
    public static let defaultMaxHeaders = 1_024
}

extension RecordBatchHeader {
    /// The fewest bytes a record can take: length, attributes, timestamp delta, offset delta, key
    /// length, value length and header count, one byte each.
    static let minimumRecordBytes = 7
    /// Attribute bits a producer may set: bit 3, the timestamp type. Compression (bits 0–2),
    /// transactions (bit 4) and control batches (bit 5) are not supported.
    static let acceptedAttributes: Int16 = 1 << 3

    /// Checks every record of a new batch whose header `validate` accepted: the count matches the
    /// records present, offset deltas are 0…n-1 in order, timestamps stay inside Int64 and under the
    /// batch's max timestamp (which one of them reaches), every length fits the bytes that remain,
    /// headers are bounded and named in UTF-8, and `limits` hold. Arithmetic never overflows and
    /// nothing is allocated, so hostile bytes cost a refusal and no more.
    public func checkRecords(of batch: UnsafeRawBufferPointer, limits: RecordLimits) throws {
        if attributes & 0x07 != 0 {
            throw LogError(.malformedBatch, "the batch is compressed (codec \(attributes & 0x07)); compression is not supported, send uncompressed batches")
        }
        guard attributes & ~Self.acceptedAttributes == 0 else {
            throw LogError(.malformedBatch, "batch attribute bits \(String(attributes, radix: 2)) are not supported (only bit 3, the timestamp type, may be set)")
        }
        guard recordCount >= 1, lastOffsetDelta == recordCount - 1 else {
            throw LogError(.malformedBatch, "a new batch needs dense records: \(recordCount) records, last offset delta \(lastOffsetDelta)")
        }
        let room = (batch.count - RecordBatchLayout.headerSize) / Self.minimumRecordBytes
        guard Int(recordCount) <= room else {
            throw LogError(.malformedBatch, "the batch claims \(recordCount) records but its \(batch.count) bytes hold at most \(room)")
        }
        var position = RecordBatchLayout.headerSize
        var newest = Int64.min
        for index in 0..<Int(recordCount) {
            let record = try RecordFields(in: batch, at: &position, index: index, header: self)
            if record.size > limits.maxRecordBytes {
                throw LogError(.recordTooLarge, "record \(index) is \(record.size) bytes; the limit is \(limits.maxRecordBytes)")
            }
            guard record.offsetDelta == Int64(index) else {
                throw LogError(.malformedBatch, "record \(index) has offset delta \(record.offsetDelta); a batch's offset deltas are 0…\(recordCount - 1) in order")
            }
            if record.timestamp > maxTimestamp {
                throw LogError(.malformedBatch, "record \(index)'s timestamp \(record.timestamp) is above the batch's max timestamp \(maxTimestamp)")
            }
            newest = max(newest, record.timestamp)
            if limits.requireKeys && !record.hasKey {
                throw LogError(.missingKey, "record \(index) has no key; a compacted log keeps the newest record per key")
            }
            guard record.headerCount <= limits.maxHeaders else {
                throw LogError(.malformedBatch, "record \(index) has header count \(record.headerCount); the limit is \(limits.maxHeaders)")
            }
        }
        guard position == batch.count else {
            throw LogError(.malformedBatch, "the batch has \(batch.count - position) bytes after its \(recordCount) records")
        }
        guard newest == maxTimestamp else {
            throw LogError(.malformedBatch, "the batch's max timestamp \(maxTimestamp) is not its newest record's timestamp \(newest)")
        }
    }
}

/// One record's fields, read with every length checked against the bytes that remain (values are
/// skipped, not copied). Shared by the append check and the decoder.
struct RecordFields {
    /// The record's length prefix (bytes after the prefix).
    var size: Int
    /// Where the key's bytes start (`nil`: no key).
    var key: Range<Int>?
    /// Where the value's bytes start (`nil`: a tombstone).
    var value: Range<Int>?
    /// The record's timestamp (the batch's first timestamp plus the delta).
    var timestamp: Int64
    /// The record's offset delta.
    var offsetDelta: Int64
    /// How many headers it has.
    var headerCount: Int
    /// Where its headers' bytes are.
    var headers: Range<Int>

    /// Whether the record has a key.
    var hasKey: Bool { key != nil }

    /// Reads the record at `position` (index `index` of the batch with `header`), advancing past it.
    init(in batch: UnsafeRawBufferPointer, at position: inout Int, index: Int, header: RecordBatchHeader) throws {
        func bad(_ what: String) -> LogError { LogError(.malformedBatch, "record \(index): \(what)") }
        guard let length = Varint.read(batch, at: &position) else { throw bad("its length is truncated") }
        guard length >= 6, length <= Int64(batch.count - position) else {
            throw bad("its length \(length) does not fit the \(batch.count - position) bytes that remain")
        }
        size = Int(length)
        let end = position + size
        let fields = UnsafeRawBufferPointer(rebasing: batch[..<end])
        position += 1  // attributes
        guard let timestampDelta = Varint.read(fields, at: &position), let offsetDelta = Varint.read(fields, at: &position) else {
            throw bad("its timestamp or offset delta is truncated")
        }
        let (timestamp, overflow) = header.firstTimestamp.addingReportingOverflow(timestampDelta)
        guard !overflow else {
            throw bad("timestamp delta \(timestampDelta) from the first timestamp \(header.firstTimestamp) leaves Int64")
        }
        self.timestamp = timestamp
        self.offsetDelta = offsetDelta
        func field(_ name: String) throws -> Range<Int>? {
            guard let count = Varint.read(fields, at: &position) else { throw bad("its \(name) length is truncated") }
            guard count >= -1, count <= Int64(end - position) else {
                throw bad("its \(name) length \(count) does not fit the \(end - position) bytes that remain")
            }
            if count < 0 { return nil }
            defer { position += Int(count) }
            return position..<(position + Int(count))
        }
        key = try field("key")
        value = try field("value")
        guard let headerCount = Varint.read(fields, at: &position) else { throw bad("its header count is truncated") }
        guard headerCount >= 0, headerCount <= Int64(end - position) / 2 else {
            throw bad("its header count \(headerCount) does not fit the \(end - position) bytes that remain")
        }
        self.headerCount = Int(headerCount)
        let headersStart = position
        for number in 0..<Int(headerCount) {
            guard let name = try field("header \(number) key") else { throw bad("header \(number) has a null key") }
            guard String(validating: UnsafeRawBufferPointer(rebasing: fields[name]).bindMemory(to: UInt8.self), as: UTF8.self) != nil else {
                throw bad("header \(number)'s key is not UTF-8")
            }
            _ = try field("header \(number) value")
        }
        headers = headersStart..<position
        guard position == end else { throw bad("it has \(end - position) bytes after its fields") }
    }
}
