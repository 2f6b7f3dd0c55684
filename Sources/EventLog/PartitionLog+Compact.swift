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
    /// The pass reads and rewrites without the log's lock (closed segments never change; the
    /// active one is read up to its size when the pass began): appends and reads go on meanwhile,
    /// and only each segment's swap takes the lock. Passes on one log run one at a time.
    @discardableResult
    public func compact() throws -> CompactionResult {
        guard configuration.compacted else {
            throw LogError(.invalidConfiguration, "the log in \(directory) is not compacted")
        }
        let now = clock()
        return try compaction.withLock {
            let (snapshot, activeSize): ([Segment], Int) = try locked {
                try checkOpen()
                return (segments, segments.last!.size)
            }
            var latest: [[UInt8]: Int64] = [:]
            for (index, segment) in snapshot.enumerated() {
                let limit = index == snapshot.count - 1 ? activeSize : segment.size
                try forEachBatch(in: segment, upTo: limit) { _, records in
                    for record in records { if let key = record.key { latest[key] = record.offset } }
                }
            }
            var result = CompactionResult()
            let tombstoneHorizon = now - configuration.tombstoneRetentionMilliseconds
            for segment in snapshot.dropLast() {
                var rewritten: [UInt8] = []
                var removed = 0
                try forEachBatch(in: segment, upTo: segment.size) { batch, records in
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
                let cleaned = try writeSideFile(for: segment, rewritten)
                let swapped: Bool = try locked {
                    try checkOpen()
                    // Retention or a truncation may have removed the segment meanwhile.
                    guard let index = segments.firstIndex(where: { $0 === segment }) else { return false }
                    segments[index] = try swapIn(cleaned, for: segment)
                    return true
                }
                guard swapped else {
                    LogDirectory.remove(cleaned)
                    continue
                }
                result.rewrittenSegments += 1
                result.removedRecords += removed
                result.bytesBefore += segment.size
                result.bytesAfter += rewritten.count
            }
            return result
        }
    }

    /// Calls `body` with each whole batch of a segment and its decoded records.
    private func forEachBatch(in segment: Segment, upTo size: Int, _ body: ([UInt8], [Record]) throws -> Void) throws {
        var position = 0
        while position + RecordBatchLayout.headerSize <= size {
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

    /// Writes a segment's compacted bytes to its side file, durably (without the log's lock).
    private func writeSideFile(for segment: Segment, _ bytes: [UInt8]) throws -> String {
        let cleaned = segment.logPath + ".cleaned"
        let file = try LogFile(path: cleaned, create: true, pool: configuration.openFiles, faults: configuration.faults)
        try file.truncate(to: 0)
        try bytes.withUnsafeBytes { try file.write([$0], at: 0) }
        try file.sync()
        return cleaned
    }

    /// Swaps a segment's file for its side file atomically and reopens it (under the log's lock).
    private func swapIn(_ cleaned: String, for segment: Segment) throws -> Segment {
        try segment.file.holdOpen()  // readers of the old segment keep reading the old file
        try LogDirectory.rename(cleaned, segment.logPath)
        try LogDirectory.syncDirectory(directory, faults: configuration.faults)
        let reopened = try Segment(directory: directory, baseOffset: segment.baseOffset, createdAt: segment.createdAt, pool: configuration.openFiles, faults: configuration.faults)
        _ = try reopened.scan(indexIntervalBytes: configuration.indexIntervalBytes, maxBatchBytes: configuration.maxBatchBytes,
                              expectedFirstOffset: segment.baseOffset)
        return reopened
    }
}
