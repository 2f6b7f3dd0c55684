/// One segment of a partition log: a file of record batches starting at `baseOffset`, with its
/// sparse offset and time indexes. Accessed only under the owning log's lock, except reads of
/// `file`, which are positional and safe concurrently.
final class Segment: @unchecked Sendable {
    let baseOffset: Int64
    let directory: String
    let file: LogFile
    private(set) var index: SegmentIndex
    private(set) var size: Int
    /// Offset after the last batch (the segment's end offset).
    private(set) var nextOffset: Int64
    /// Largest record timestamp in the segment (for time retention).
    private(set) var maxTimestamp: Int64 = .min
    /// When the segment was created (ms), for the roll-by-age bound.
    let createdAt: Int64
    private var offsetIndexFile: LogFile
    private var timeIndexFile: LogFile

    static func fileName(_ baseOffset: Int64, _ suffix: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    var logPath: String { "\(directory)/\(Segment.fileName(baseOffset, ".log"))" }
    var offsetIndexPath: String { "\(directory)/\(Segment.fileName(baseOffset, ".index"))" }
    var timeIndexPath: String { "\(directory)/\(Segment.fileName(baseOffset, ".timeindex"))" }

    /// Injected faults the segment's files go through (tests only).
    private let faults: LogFaults?

    /// Opens or creates the segment files, their descriptors bounded by `pool` (and their
    /// changes modelled by `faults`, in tests). The caller recovers or loads the index next.
    init(directory: String, baseOffset: Int64, createdAt: Int64, pool: LogFilePool, faults: LogFaults?) throws {
        self.directory = directory
        self.faults = faults
        self.baseOffset = baseOffset
        self.createdAt = createdAt
        let log = "\(directory)/\(Segment.fileName(baseOffset, ".log"))"
        file = try LogFile(path: log, create: true, pool: pool, faults: faults)
        size = try file.size()
        nextOffset = baseOffset
        index = SegmentIndex(baseOffset: baseOffset)
        offsetIndexFile = try LogFile(path: "\(directory)/\(Segment.fileName(baseOffset, ".index"))", create: true, pool: pool, faults: faults)
        timeIndexFile = try LogFile(path: "\(directory)/\(Segment.fileName(baseOffset, ".timeindex"))", create: true, pool: pool, faults: faults)
    }

    /// Appends a validated batch whose header fields `prefix` (base offset … leader epoch) were
    /// rewritten; `batch` is the producer's bytes, written after the prefix without copying.
    func append(prefix: UnsafeRawBufferPointer, batch: UnsafeRawBufferPointer, header: RecordBatchHeader, indexIntervalBytes: Int) throws {
        let position = size
        try file.write([prefix, UnsafeRawBufferPointer(rebasing: batch[prefix.count...])], at: position)
        size += batch.count
        noteAppended(header, at: position, indexIntervalBytes: indexIntervalBytes)
    }

    private func noteAppended(_ header: RecordBatchHeader, at position: Int, indexIntervalBytes: Int) {
        nextOffset = header.nextOffset
        maxTimestamp = max(maxTimestamp, header.maxTimestamp)
        let (offsetEntry, timeEntry) = index.add(header, at: position, intervalBytes: indexIntervalBytes)
        // Index files are rebuildable, so their writes are best-effort and never fsynced.
        if let offsetEntry {
            var bytes: [UInt8] = []
            SegmentIndex.append(offsetEntry, to: &bytes)
            try? bytes.withUnsafeBytes { try offsetIndexFile.write([$0], at: (index.offsets.count - 1) * 8) }
        }
        if let timeEntry {
            var bytes: [UInt8] = []
            SegmentIndex.append(timeEntry, to: &bytes)
            try? bytes.withUnsafeBytes { try timeIndexFile.write([$0], at: (index.times.count - 1) * 12) }
        }
    }

    /// What a scan of the segment found.
    struct ScanResult {
        /// Where the last good batch ends; a torn or corrupt tail starts here.
        var validSize: Int
        /// Corrupt batches followed by good ones (reported, kept, never served).
        var corruptPositions: [Int] = []
        /// Why scanning stopped before the end of the file, if it did.
        var stopReason: String?
    }

    /// Scans the whole segment, verifying every batch, rebuilding the indexes and the end offset.
    /// Stops at the first batch that is incomplete or unparseable, or corrupt with nothing valid
    /// after it (a torn tail); a corrupt batch followed by valid ones is recorded and skipped.
    func scan(indexIntervalBytes: Int, maxBatchBytes: Int, expectedFirstOffset: Int64) throws -> ScanResult {
        index = SegmentIndex(baseOffset: baseOffset)
        nextOffset = max(baseOffset, expectedFirstOffset)
        maxTimestamp = .min
        let fileSize = try file.size()
        var position = 0
        var result = ScanResult(validSize: 0)
        while position < fileSize {
            guard let header = try checkedHeader(at: position, fileSize: fileSize, maxBatchBytes: maxBatchBytes, result: &result) else {
                break
            }
            let batch = try file.read(at: position, count: header.size)
            let intact = batch.withUnsafeBytes { RecordBatchHeader.computeCRC($0) == header.crc }
            if !intact {
                // Corrupt: a torn tail unless a valid batch follows it.
                let next = position + header.size
                var probe = ScanResult(validSize: 0)
                let follower = next < fileSize ? try checkedHeader(at: next, fileSize: fileSize, maxBatchBytes: maxBatchBytes, result: &probe) : nil
                let followerIntact = try follower.map { follower in
                    try file.read(at: next, count: follower.size).withUnsafeBytes { RecordBatchHeader.computeCRC($0) == follower.crc }
                } ?? false
                guard followerIntact else {
                    result.stopReason = "batch at position \(position) fails its CRC32C check"
                    break
                }
                result.corruptPositions.append(position)
            }
            noteAppended(header, at: position, indexIntervalBytes: indexIntervalBytes)
            position += header.size
            result.validSize = position
        }
        size = fileSize
        try rewriteIndexFiles()
        return result
    }

    private func checkedHeader(at position: Int, fileSize: Int, maxBatchBytes: Int, result: inout ScanResult) throws -> RecordBatchHeader? {
        guard fileSize - position >= RecordBatchLayout.headerSize else {
            result.stopReason = "\(fileSize - position) trailing bytes at position \(position) are less than a batch header"
            return nil
        }
        let bytes = try file.read(at: position, count: RecordBatchLayout.headerSize)
        let header: RecordBatchHeader
        do {
            header = try bytes.withUnsafeBytes { try RecordBatchHeader(parsing: $0) }
        } catch {
            result.stopReason = "batch header at position \(position) is malformed: \(error)"
            return nil
        }
        guard header.size <= maxBatchBytes, position + header.size <= fileSize else {
            result.stopReason = "batch at position \(position) claims \(header.size) bytes; \(fileSize - position) remain"
            return nil
        }
        guard header.baseOffset >= nextOffset || (nextOffset == baseOffset && header.baseOffset >= baseOffset) else {
            result.stopReason = "batch at position \(position) has offset \(header.baseOffset), expected ≥ \(nextOffset)"
            return nil
        }
        return header
    }

    /// Loads the index files of a closed segment, rebuilding them (by a header-only scan) when
    /// missing or damaged. Returns whether a rebuild was needed.
    @discardableResult
    func loadIndexes(indexIntervalBytes: Int, maxBatchBytes: Int) throws -> Bool {
        let offsetBytes = try offsetIndexFile.read(at: 0, count: try offsetIndexFile.size())
        let timeBytes = try timeIndexFile.read(at: 0, count: try timeIndexFile.size())
        if let loaded = SegmentIndex.load(baseOffset: baseOffset, offsetBytes: offsetBytes, timeBytes: timeBytes, segmentSize: size),
           size == 0 || !loaded.offsets.isEmpty,
           let last = try lastBatchHeader(from: loaded) {
            index = loaded
            nextOffset = last.nextOffset
            maxTimestamp = max(loaded.times.last?.timestamp ?? .min, last.maxTimestamp)
            return false
        }
        try rebuildIndexes(indexIntervalBytes: indexIntervalBytes, maxBatchBytes: maxBatchBytes)
        return true
    }

    /// Walks headers from the last index entry to the end; `nil` if they do not line up.
    private func lastBatchHeader(from index: SegmentIndex) throws -> RecordBatchHeader? {
        var position = Int(index.offsets.last?.position ?? 0)
        if let entry = index.offsets.last {
            // The entry must point at a batch with the offset it claims.
            let bytes = try file.read(at: position, count: RecordBatchLayout.headerSize)
            guard let header = try? bytes.withUnsafeBytes({ try RecordBatchHeader(parsing: $0) }),
                  header.baseOffset == baseOffset + Int64(entry.relativeOffset) else { return nil }
        }
        var last: RecordBatchHeader?
        while position < size {
            let bytes = try file.read(at: position, count: RecordBatchLayout.headerSize)
            guard let header = try? bytes.withUnsafeBytes({ try RecordBatchHeader(parsing: $0) }),
                  position + header.size <= size else { return nil }
            last = header
            position += header.size
        }
        return last ?? (size == 0 ? RecordBatchHeader.empty(at: baseOffset) : nil)
    }

    private func rebuildIndexes(indexIntervalBytes: Int, maxBatchBytes: Int) throws {
        index = SegmentIndex(baseOffset: baseOffset)
        nextOffset = baseOffset
        maxTimestamp = .min
        var position = 0
        while position + RecordBatchLayout.headerSize <= size {
            let bytes = try file.read(at: position, count: RecordBatchLayout.headerSize)
            let header = try bytes.withUnsafeBytes { try RecordBatchHeader(parsing: $0) }
            guard position + header.size <= size else { break }
            noteAppended(header, at: position, indexIntervalBytes: indexIntervalBytes)
            position += header.size
        }
        try rewriteIndexFiles()
    }

    private func rewriteIndexFiles() throws {
        let offsets = index.encodedOffsets(), times = index.encodedTimes()
        try offsetIndexFile.truncate(to: 0)
        try offsets.withUnsafeBytes { try offsetIndexFile.write([$0], at: 0) }
        try timeIndexFile.truncate(to: 0)
        try times.withUnsafeBytes { try timeIndexFile.write([$0], at: 0) }
    }

    /// Cuts the segment at `position` (a batch boundary) and drops index entries beyond it.
    func truncate(toPosition position: Int, nextOffset: Int64) throws {
        try file.truncate(to: position)
        size = position
        self.nextOffset = nextOffset
        index.truncate(toPosition: position)
        try rewriteIndexFiles()
    }

    /// Finds the first batch whose last offset is ≥ `offset`, scanning from the index floor.
    /// Returns its position and header, or `nil` when the segment has no such batch.
    /// Call under the log's lock (it reads the index); see ``locate(offset:from:limit:)``.
    func locate(offset: Int64, limit: Int) throws -> (position: Int, header: RecordBatchHeader)? {
        try locate(offset: offset, from: index.position(floorOf: offset), limit: limit)
    }

    /// Finds the first batch whose last offset is ≥ `offset`, walking headers from `start` (a
    /// batch boundary at or before it). Touches only the file, so it runs outside the lock.
    func locate(offset: Int64, from start: Int, limit: Int) throws -> (position: Int, header: RecordBatchHeader)? {
        var position = start
        while position + RecordBatchLayout.headerSize <= limit {
            let bytes = try file.read(at: position, count: RecordBatchLayout.headerSize)
            let header: RecordBatchHeader
            do {
                header = try bytes.withUnsafeBytes { try RecordBatchHeader(parsing: $0) }
            } catch {
                throw LogError(.corruption, "segment \(logPath): batch header at position \(position) is corrupt: \(error)")
            }
            if header.lastOffset >= offset { return (position, header) }
            position += header.size
        }
        return nil
    }

    /// Where to start walking for `timestamp`: `nil` when the segment has nothing that late.
    /// Call under the log's lock.
    func startPosition(forTimestamp timestamp: Int64) -> Int? {
        guard maxTimestamp >= timestamp else { return nil }
        return index.position(floorOf: index.offset(floorOfTimestamp: timestamp))
    }

    /// The position of the first batch with a record at or after `timestamp`, walking headers
    /// from `start` (see ``startPosition(forTimestamp:)``); runs outside the lock.
    func locate(timestamp: Int64, from start: Int, limit: Int) throws -> (position: Int, header: RecordBatchHeader)? {
        var position = start
        while position + RecordBatchLayout.headerSize <= limit {
            let bytes = try file.read(at: position, count: RecordBatchLayout.headerSize)
            let header = try bytes.withUnsafeBytes { try RecordBatchHeader(parsing: $0) }
            if header.maxTimestamp >= timestamp { return (position, header) }
            position += header.size
        }
        return nil
    }

    /// The end offset of the batches before `position` (a batch boundary), as a scan would find.
    func endOffset(before position: Int) throws -> Int64 {
        guard position > 0 else { return baseOffset }
        var cursor = index.offsets.last { Int($0.position) < position }.map { Int($0.position) } ?? 0
        var end = baseOffset
        while cursor < position {
            let bytes = try file.read(at: cursor, count: RecordBatchLayout.headerSize)
            let header = try bytes.withUnsafeBytes { try RecordBatchHeader(parsing: $0) }
            end = header.nextOffset
            cursor += header.size
        }
        return end
    }

    /// Makes the segment's appended bytes durable.
    func sync() throws { try file.sync() }

    /// Deletes the segment's files (open readers keep their descriptor until they finish).
    func delete() {
        try? file.holdOpen()
        for path in [logPath, offsetIndexPath, timeIndexPath] {
            faults?.forget(path)
            LogDirectory.remove(path)
        }
    }
}

extension RecordBatchHeader {
    /// A placeholder for an empty segment's "last batch": ends just before `offset`.
    static func empty(at offset: Int64) -> RecordBatchHeader {
        RecordBatchHeader(
            baseOffset: offset, size: 0, leaderEpoch: -1, crc: 0, attributes: 0, lastOffsetDelta: -1, firstTimestamp: .min,
            maxTimestamp: .min, producerID: -1, producerEpoch: -1, baseSequence: -1, recordCount: 0)
    }
}
