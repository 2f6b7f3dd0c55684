/// The sparse offset and time indexes of one segment, in memory and in their files.
///
/// Offset entries map a batch's base offset (relative to the segment) to its byte position;
/// time entries map the largest timestamp seen so far to the offset of the batch that reached
/// it. Entries are added every `intervalBytes`, so a lookup lands within that distance of its
/// batch. Index files can always be rebuilt from the segment: they are checked on open and
/// rebuilt when missing or damaged.
struct SegmentIndex {
    struct OffsetEntry: Hashable { var relativeOffset: UInt32; var position: UInt32 }
    struct TimeEntry: Hashable { var timestamp: Int64; var relativeOffset: UInt32 }

    let baseOffset: Int64
    private(set) var offsets: [OffsetEntry] = []
    private(set) var times: [TimeEntry] = []
    private var bytesSinceEntry = Int.max

    init(baseOffset: Int64) { self.baseOffset = baseOffset }

    /// Notes a batch appended at `position`; returns the new entries to write, if any.
    mutating func add(_ header: RecordBatchHeader, at position: Int, intervalBytes: Int) -> (OffsetEntry?, TimeEntry?) {
        bytesSinceEntry = bytesSinceEntry == .max ? .max : bytesSinceEntry + header.size
        guard bytesSinceEntry >= intervalBytes else { return (nil, nil) }
        bytesSinceEntry = 0
        let relative = UInt32(header.baseOffset - baseOffset)
        let offset = OffsetEntry(relativeOffset: relative, position: UInt32(position))
        offsets.append(offset)
        if header.maxTimestamp > (times.last?.timestamp ?? .min) {
            let time = TimeEntry(timestamp: header.maxTimestamp, relativeOffset: relative)
            times.append(time)
            return (offset, time)
        }
        return (offset, nil)
    }

    /// The position of the last indexed batch at or before `offset` (0 when none).
    func position(floorOf offset: Int64) -> Int {
        let relative = offset - baseOffset
        var low = 0, high = offsets.count - 1, found = 0
        while low <= high {
            let middle = (low + high) / 2
            if Int64(offsets[middle].relativeOffset) <= relative {
                found = Int(offsets[middle].position)
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return found
    }

    /// The offset from which to scan for the first record at or after `timestamp` (the segment
    /// base when no entry helps), or `nil` when the segment has nothing that late.
    func offset(floorOfTimestamp timestamp: Int64) -> Int64 {
        // The last entry whose timestamp is below `timestamp` (entries ascend by timestamp).
        var low = 0, high = times.count - 1, result = baseOffset
        while low <= high {
            let middle = (low + high) / 2
            if times[middle].timestamp < timestamp {
                result = baseOffset + Int64(times[middle].relativeOffset)
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return result
    }

    /// Drops entries at or after `position` (after a truncation).
    mutating func truncate(toPosition position: Int) {
        offsets.removeAll { Int($0.position) >= position }
        let lastOffset = offsets.last?.relativeOffset
        times.removeAll { lastOffset == nil || $0.relativeOffset > lastOffset! }
        bytesSinceEntry = .max
    }

    /// The serialised offset index (8 bytes an entry, big-endian).
    func encodedOffsets() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(offsets.count * 8)
        for entry in offsets { Self.append(entry, to: &bytes) }
        return bytes
    }

    /// The serialised time index (12 bytes an entry, big-endian).
    func encodedTimes() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(times.count * 12)
        for entry in times { Self.append(entry, to: &bytes) }
        return bytes
    }

    static func append(_ entry: OffsetEntry, to bytes: inout [UInt8]) {
        bytes.appendBigEndian(entry.relativeOffset)
        bytes.appendBigEndian(entry.position)
    }

    static func append(_ entry: TimeEntry, to bytes: inout [UInt8]) {
        bytes.appendBigEndian(entry.timestamp)
        bytes.appendBigEndian(entry.relativeOffset)
    }

    /// Loads index files, or `nil` when they are missing, torn or inconsistent with a segment
    /// of `segmentSize` bytes (the caller then rebuilds them).
    static func load(baseOffset: Int64, offsetBytes: [UInt8], timeBytes: [UInt8], segmentSize: Int) -> SegmentIndex? {
        guard offsetBytes.count % 8 == 0, timeBytes.count % 12 == 0 else { return nil }
        var index = SegmentIndex(baseOffset: baseOffset)
        let valid: Bool = offsetBytes.withUnsafeBytes { raw in
            var previous: OffsetEntry?
            for start in stride(from: 0, to: raw.count, by: 8) {
                let entry = OffsetEntry(
                    relativeOffset: raw.loadBigEndian(at: start, as: UInt32.self),
                    position: raw.loadBigEndian(at: start + 4, as: UInt32.self))
                if let previous, entry.relativeOffset <= previous.relativeOffset || entry.position <= previous.position {
                    return false
                }
                if Int(entry.position) >= segmentSize { return false }
                index.offsets.append(entry)
                previous = entry
            }
            return true
        }
        guard valid else { return nil }
        let timesValid: Bool = timeBytes.withUnsafeBytes { raw in
            for start in stride(from: 0, to: raw.count, by: 12) {
                let entry = TimeEntry(
                    timestamp: raw.loadBigEndian(at: start, as: Int64.self),
                    relativeOffset: raw.loadBigEndian(at: start + 8, as: UInt32.self))
                if let previous = index.times.last, entry.timestamp <= previous.timestamp { return false }
                index.times.append(entry)
            }
            return true
        }
        guard timesValid else { return nil }
        index.bytesSinceEntry = 0
        return index
    }
}
