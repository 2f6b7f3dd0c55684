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
        records.reserveCapacity(Int(header.recordCount))
        for index in 0..<Int(header.recordCount) {
            records.append(try record(in: batch, at: &position, header: header, index: index))
        }
        return records
    }

    /// The records of the whole batches in `bytes` (as a fetch returns them; a partial batch at the
    /// end is left out); `base` replaces the batches' own base offset (a live stream batch carries
    /// the producer's bytes, its offsets in the stream header).
    public static func records(inBatches bytes: [UInt8], base: Int64? = nil) throws -> [Record] {
        try bytes.withUnsafeBytes { raw in
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
    }

    /// The size in bytes of each record of a batch, and whether each has a key, from the framing
    /// only (lengths and key lengths; no values are read).
    static func framing(of batch: UnsafeRawBufferPointer, recordCount: Int) throws -> [(size: Int, hasKey: Bool)] {
        var position = RecordBatchLayout.headerSize
        var result: [(Int, Bool)] = []
        result.reserveCapacity(recordCount)
        for index in 0..<recordCount {
            guard let length = Varint.read(batch, at: &position), length >= 0,
                  position + Int(length) <= batch.count else {
                throw LogError(.malformedBatch, "record \(index) has a bad length")
            }
            let end = position + Int(length)
            var cursor = position + 1  // attributes
            guard Varint.read(batch, at: &cursor) != nil, Varint.read(batch, at: &cursor) != nil,
                  let keyLength = Varint.read(batch, at: &cursor), cursor <= end else {
                throw LogError(.malformedBatch, "record \(index) has a bad header")
            }
            result.append((Int(length), keyLength >= 0))
            position = end
        }
        guard position == batch.count else {
            throw LogError(.malformedBatch, "batch has \(batch.count - position) bytes after its \(recordCount) records")
        }
        return result
    }

    private static func record(
        in batch: UnsafeRawBufferPointer, at position: inout Int, header: RecordBatchHeader, index: Int
    ) throws -> Record {
        func bad(_ what: String) -> LogError {
            LogError(.malformedBatch, "record \(index) of the batch at offset \(header.baseOffset): \(what)")
        }
        guard let length = Varint.read(batch, at: &position), length >= 0, position + Int(length) <= batch.count else {
            throw bad("bad length")
        }
        let end = position + Int(length)
        position += 1  // attributes
        guard let timestampDelta = Varint.read(batch, at: &position),
              let offsetDelta = Varint.read(batch, at: &position) else { throw bad("bad header") }
        func bytes() throws -> [UInt8]? {
            guard let count = Varint.read(batch, at: &position), count >= -1, position + Int(max(0, count)) <= end else {
                throw bad("bad field length")
            }
            if count < 0 { return nil }
            defer { position += Int(count) }
            return Array(batch[position..<(position + Int(count))])
        }
        let key = try bytes(), value = try bytes()
        guard let headerCount = Varint.read(batch, at: &position), headerCount >= 0, headerCount < 10_000 else {
            throw bad("bad header count")
        }
        var headers: [(key: String, value: [UInt8]?)] = []
        for _ in 0..<headerCount {
            guard let name = try bytes() else { throw bad("null header key") }
            headers.append((String(decoding: name, as: UTF8.self), try bytes()))
        }
        guard position == end else { throw bad("\(end - position) stray bytes") }
        var record = Record(key: key, value: value, timestamp: header.firstTimestamp + timestampDelta, headers: headers)
        record.offset = header.baseOffset + offsetDelta
        return record
    }
}
