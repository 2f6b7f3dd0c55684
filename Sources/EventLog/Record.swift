/// One record of a batch, decoded (for compaction, tests and tools; the append and read paths
/// never decode records).
public struct Record: Sendable, Hashable {
    /// The record's absolute offset.
    public var offset: Int64
    /// Timestamp in milliseconds since the epoch.
    public var timestamp: Int64
    /// The key (`nil`: no key).
    public var key: [UInt8]?
    /// The value (`nil`: a tombstone, which deletes the key in a compacted log).
    public var value: [UInt8]?
    /// Record headers, in order.
    public var headers: [(key: String, value: [UInt8]?)] = []

    /// A record to append (its offset is assigned by the log).
    public init(key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: [(key: String, value: [UInt8]?)] = []) {
        self.offset = -1
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.headers = headers
    }

    /// Records are equal when every field and header is.
    public static func == (lhs: Record, rhs: Record) -> Bool {
        lhs.offset == rhs.offset && lhs.timestamp == rhs.timestamp && lhs.key == rhs.key && lhs.value == rhs.value
            && lhs.headers.count == rhs.headers.count
            && zip(lhs.headers, rhs.headers).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// Hashes offset, key and value.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(offset)
        hasher.combine(key)
        hasher.combine(value)
    }
}

/// Walks the records of a batch.
public enum RecordDecoder {
    /// Decodes every record of a whole, valid batch.
    public static func records(in batch: UnsafeRawBufferPointer) throws -> [Record] {
        let header = try RecordBatchHeader(parsing: batch)
        var position = RecordBatchLayout.headerSize
        var records: [Record] = []
        // Never reserve more than the bytes could hold: the count is not trusted.
        records.reserveCapacity(min(Int(header.recordCount), batch.count / RecordBatchHeader.minimumRecordBytes))
        for index in 0..<Int(header.recordCount) {
            records.append(try record(in: batch, at: &position, header: header, index: index))
        }
        return records
    }

    /// The records of the whole batches in `bytes` (as a fetch returns them; a partial batch at the
    /// end is left out); `base` replaces the batches' own base offset (a live stream batch carries
    /// the producer's bytes, its offsets in the stream header).
    public static func records(inBatches bytes: [UInt8], base: Int64? = nil) throws -> [Record] {
        try bytes.withUnsafeBytes { try records(inBatches: $0, base: base) }
    }

    /// The records of the whole batches in `raw`, read in place (a stream message's frame, not
    /// copied into an array first); `base` as for an array of bytes.
    public static func records(inBatches raw: UnsafeRawBufferPointer, base: Int64? = nil) throws -> [Record] {
        var records: [Record] = []
        var position = 0
        while position + RecordBatchLayout.headerSize <= raw.count {
            let header = try RecordBatchHeader(parsing: UnsafeRawBufferPointer(rebasing: raw[position...]))
            guard position + header.size <= raw.count else { break }
            var batch = try self.records(in: UnsafeRawBufferPointer(rebasing: raw[position..<(position + header.size)]))
            if let base {
                for index in batch.indices { batch[index].offset = base + (batch[index].offset - header.baseOffset) }
            }
            records += batch
            position += header.size
        }
        return records
    }

    private static func record(
        in batch: UnsafeRawBufferPointer, at position: inout Int, header: RecordBatchHeader, index: Int
    ) throws -> Record {
        let fields = try RecordFields(in: batch, at: &position, index: index, header: header)
        func bytes(_ range: Range<Int>?) -> [UInt8]? { range.map { Array(batch[$0]) } }
        var headers: [(key: String, value: [UInt8]?)] = []
        headers.reserveCapacity(fields.headerCount)
        var cursor = fields.headers.lowerBound
        for _ in 0..<fields.headerCount {
            // Lengths were checked by RecordFields; read them again to cut the bytes.
            let nameLength = Int(Varint.read(batch, at: &cursor)!)
            let name = String(decoding: batch[cursor..<(cursor + nameLength)], as: UTF8.self)
            cursor += nameLength
            let valueLength = Int(Varint.read(batch, at: &cursor)!)
            let value = valueLength < 0 ? nil : Array(batch[cursor..<(cursor + valueLength)])
            cursor += max(0, valueLength)
            headers.append((name, value))
        }
        var record = Record(key: bytes(fields.key), value: bytes(fields.value), timestamp: fields.timestamp, headers: headers)
        let (offset, overflow) = header.baseOffset.addingReportingOverflow(fields.offsetDelta)
        guard !overflow else {
            throw LogError(.malformedBatch, "record \(index) of the batch at offset \(header.baseOffset): offset delta \(fields.offsetDelta) leaves Int64")
        }
        record.offset = offset
        return record
    }
}
