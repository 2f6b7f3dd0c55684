/// What a compaction pass did.
public struct CompactionResult: Sendable, Hashable {
    /// Segments rewritten.
    public var rewrittenSegments = 0
    /// Records removed (superseded by a newer record of their key, or expired tombstones).
    public var removedRecords = 0
    /// Bytes before and after, over the rewritten segments.
    public var bytesBefore = 0, bytesAfter = 0
}

extension PartitionLog {
    /// Compacts a compacted log: in every closed segment keeps only the newest record of each key
    /// (newest over the whole log), drops tombstones older than the tombstone retention, and
    /// keeps offsets as they were. Each segment is rewritten to a side file and swapped in by an
    /// atomic rename, so a crash leaves either the old or the new segment.
    ///
    /// Appends wait while a pass runs (it holds the log's lock).
    @discardableResult
    public func compact() throws -> CompactionResult {
        guard configuration.compacted else {
            throw LogError(.invalidConfiguration, "the log in \(directory) is not compacted")
        }
        let now = clock()
        return try locked {
            try checkOpen()
            var latest: [[UInt8]: Int64] = [:]
            for segment in segments {
                try forEachBatch(in: segment) { _, records in
                    for record in records { if let key = record.key { latest[key] = record.offset } }
                }
            }
            var result = CompactionResult()
            let tombstoneHorizon = now - configuration.tombstoneRetentionMilliseconds
            for (index, segment) in segments.enumerated().dropLast() {
                var rewritten: [UInt8] = []
                var removed = 0
                try forEachBatch(in: segment) { batch, records in
                    let header = try batch.withUnsafeBytes { try RecordBatchHeader(parsing: $0) }
                    let kept = records.filter { record in
                        guard let key = record.key, latest[key] == record.offset else { return false }
                        return record.value != nil || header.maxTimestamp >= tombstoneHorizon
                    }
                    removed += records.count - kept.count
                    if kept.count == records.count {
                        rewritten += batch
                    } else if !kept.isEmpty {
                        rewritten += RecordBatchBuilder.encode(
                            kept, baseOffset: header.baseOffset, lastOffsetDelta: header.lastOffsetDelta,
                            producerID: header.producerID, producerEpoch: header.producerEpoch,
                            baseSequence: header.baseSequence, leaderEpoch: header.leaderEpoch)
                    }
                }
                guard removed > 0 else { continue }
                result.rewrittenSegments += 1
                result.removedRecords += removed
                result.bytesBefore += segment.size
                result.bytesAfter += rewritten.count
                segments[index] = try replace(segment, with: rewritten)
            }
            return result
        }
    }

    /// Calls `body` with each whole batch of a segment and its decoded records.
    private func forEachBatch(in segment: Segment, _ body: ([UInt8], [Record]) throws -> Void) throws {
        var position = 0
        while position + RecordBatchLayout.headerSize <= segment.size {
            let headerBytes = try segment.file.read(at: position, count: RecordBatchLayout.headerSize)
            let header = try headerBytes.withUnsafeBytes { try RecordBatchHeader(parsing: $0) }
            let batch = try segment.file.read(at: position, count: header.size)
            let intact = batch.withUnsafeBytes { RecordBatchHeader.computeCRC($0) == header.crc }
            guard intact else {
                throw LogError(.corruption, "segment \(segment.logPath): batch at position \(position) fails its CRC32C check; compaction stopped")
            }
            try body(batch, try batch.withUnsafeBytes { try RecordDecoder.records(in: $0) })
            position += header.size
        }
    }

    /// Swaps a segment's file for `bytes` atomically and reopens it.
    private func replace(_ segment: Segment, with bytes: [UInt8]) throws -> Segment {
        let cleaned = segment.logPath + ".cleaned"
        let file = try LogFile(path: cleaned, create: true, pool: configuration.openFiles, faults: configuration.faults)
        try file.truncate(to: 0)
        try bytes.withUnsafeBytes { try file.write([$0], at: 0) }
        try file.sync()
        try segment.file.holdOpen()  // readers of the old segment keep reading the old file
        try LogDirectory.rename(cleaned, segment.logPath)
        try LogDirectory.syncDirectory(directory, faults: configuration.faults)
        let reopened = try Segment(directory: directory, baseOffset: segment.baseOffset, createdAt: segment.createdAt, pool: configuration.openFiles, faults: configuration.faults)
        _ = try reopened.scan(indexIntervalBytes: configuration.indexIntervalBytes, maxBatchBytes: configuration.maxBatchBytes,
                              expectedFirstOffset: segment.baseOffset)
        return reopened
    }
}
