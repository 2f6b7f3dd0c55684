/// Batches read from a log, as stored.
public struct LogRead: Sendable {
    /// Whole batches, exactly as stored (send them on as they are).
    public var bytes: [UInt8]
    /// Offset of the first record returned (`nil` when nothing was).
    public var firstOffset: Int64?
    /// Where the next read should start.
    public var nextOffset: Int64
    /// The log's high watermark when read.
    public var highWatermark: Int64
    /// The log's start offset when read.
    public var logStartOffset: Int64
    /// The log's end offset when read.
    public var logEndOffset: Int64
}

extension PartitionLog {
    /// Reads whole batches from `offset` up to about `maxBytes` (the first batch is returned
    /// whole even when larger, so a reader always progresses), stopping before any batch that
    /// reaches `maxOffset` (e.g. the high watermark). Every batch is CRC-checked; a corrupt one
    /// is never served: it stops the read, or fails it with ``LogError/Code/corruption`` naming the
    /// segment and position when it is the first.
    public func read(from offset: Int64, maxBytes: Int, upTo maxOffset: Int64? = nil) throws -> LogRead {
        // Under the lock: sizes and the index floor (indexes change as batches are appended).
        let snapshot: (segments: [(Segment, Int)], first: Int, floor: Int, start: Int64, end: Int64, watermark: Int64) = try locked {
            try checkOpen()
            let first = self.segments.lastIndex { $0.baseOffset <= offset } ?? 0
            let floor = self.segments[first].index.position(floorOf: offset)
            return (self.segments.map { ($0, $0.size) }, first, floor, startOffset, endOffset, watermark)
        }
        let (segments, first, floor, start, end, highWatermark) = snapshot
        let bound = min(maxOffset ?? end, end)
        let result = LogRead(bytes: [], firstOffset: nil, nextOffset: offset, highWatermark: highWatermark,
                             logStartOffset: start, logEndOffset: end)
        guard offset >= start, offset <= end else {
            throw LogError(.offsetOutOfRange, "offset \(offset) is outside the log's range \(start)…\(end)")
        }
        guard offset < bound, maxBytes > 0 else { return result }
        var index = first
        var target = offset
        while index < segments.count {
            let (segment, limit) = segments[index]
            if let (position, _) = try segment.locate(offset: target, from: index == first ? floor : 0, limit: limit) {
                return try collect(from: segment, position: position, limit: limit, maxBytes: maxBytes, bound: bound, into: result)
            }
            index += 1
            if index < segments.count { target = segments[index].0.baseOffset }
        }
        return result
    }

    /// Reads whole, intact batches of one segment starting at `position`.
    private func collect(from segment: Segment, position: Int, limit: Int, maxBytes: Int, bound: Int64, into result: LogRead) throws -> LogRead {
        var result = result
        let headerBytes = try segment.file.read(at: position, count: RecordBatchLayout.headerSize)
        let first = try headerBytes.withUnsafeBytes { try RecordBatchHeader(parsing: $0) }
        let want = min(limit - position, max(maxBytes, first.size))
        let bytes = try segment.file.read(at: position, count: want)
        var end = 0
        try bytes.withUnsafeBytes { raw in
            while end + RecordBatchLayout.headerSize <= raw.count {
                let header: RecordBatchHeader
                do {
                    header = try RecordBatchHeader(parsing: UnsafeRawBufferPointer(rebasing: raw[end...]))
                } catch {
                    throw LogError(.corruption, "segment \(segment.logPath): unreadable batch header at position \(position + end): \(error)")
                }
                guard end + header.size <= raw.count, header.lastOffset < bound else { break }
                let batch = UnsafeRawBufferPointer(rebasing: raw[end..<(end + header.size)])
                guard RecordBatchHeader.computeCRC(batch) == header.crc else {
                    if end == 0 {
                        throw LogError(.corruption, "segment \(segment.logPath): batch at position \(position) (offsets \(header.baseOffset)…\(header.lastOffset)) fails its CRC32C check; it is not served")
                    }
                    break
                }
                if result.firstOffset == nil { result.firstOffset = header.baseOffset }
                result.nextOffset = header.nextOffset
                end += header.size
            }
        }
        result.bytes = end == bytes.count ? bytes : Array(bytes[..<end])
        return result
    }

    /// The offset of the first record at or after `timestamp` (ms), or `nil` when none is.
    public func offset(forTimestamp timestamp: Int64) throws -> Int64? {
        let segments: [(Segment, Int, Int?)] = try locked {
            try checkOpen()
            return self.segments.map { ($0, $0.size, $0.startPosition(forTimestamp: timestamp)) }
        }
        for (segment, limit, start) in segments {
            guard let start, let (position, header) = try segment.locate(timestamp: timestamp, from: start, limit: limit) else { continue }
            let batch = try segment.file.read(at: position, count: header.size)
            let records = try batch.withUnsafeBytes { try RecordDecoder.records(in: $0) }
            if let record = records.first(where: { $0.timestamp >= timestamp }) { return record.offset }
        }
        return nil
    }

    /// Decodes every record from `offset` to the end (tests and tools; the serving path never
    /// decodes).
    public func records(from offset: Int64, maxBytesPerRead: Int = 1 << 20) throws -> [Record] {
        var records: [Record] = []
        var next = offset
        while true {
            let read = try read(from: next, maxBytes: maxBytesPerRead)
            if read.bytes.isEmpty { break }
            try read.bytes.withUnsafeBytes { raw in
                var position = 0
                while position < raw.count {
                    let header = try RecordBatchHeader(parsing: UnsafeRawBufferPointer(rebasing: raw[position...]))
                    let batch = UnsafeRawBufferPointer(rebasing: raw[position..<(position + header.size)])
                    records += try RecordDecoder.records(in: batch).filter { $0.offset >= offset }
                    position += header.size
                }
            }
            next = read.nextOffset
        }
        return records
    }
}
