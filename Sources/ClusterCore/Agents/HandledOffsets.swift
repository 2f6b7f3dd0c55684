/// The input offsets at or above a shard's committed offset whose events are already handled
/// (issue 14, guarantee 1): a slow key pins the committed offset while other keys finish, and a
/// replay from the pinned offset skips what this set holds instead of running it again — however
/// many events of a key went by, unlike the window of remembered ids. Disjoint closed ranges in
/// ascending order, so a run of handled offsets costs one range. Pure.
public struct HandledOffsets: Sendable, Hashable {
    /// The ranges, ascending, disjoint and not adjacent.
    public private(set) var ranges: [ClosedRange<Int64>] = []

    /// An empty set.
    public init() {}

    /// Whether no offset is held.
    public var isEmpty: Bool { ranges.isEmpty }

    /// The highest offset held.
    public var highest: Int64? { ranges.last?.upperBound }

    /// Whether `offset` is held.
    public func contains(_ offset: Int64) -> Bool {
        let index = firstRange(endingAtOrAbove: offset)
        return index < ranges.count && ranges[index].contains(offset)
    }

    /// Adds `offset`, merging it with the ranges it touches.
    public mutating func insert(_ offset: Int64) { insert(offset...offset) }

    /// Adds every offset of `range`.
    public mutating func insert(_ range: ClosedRange<Int64>) {
        var low = range.lowerBound, high = range.upperBound
        let start = firstRange(endingAtOrAbove: low == .min ? low : low - 1)
        var end = start
        while end < ranges.count && (high == .max || ranges[end].lowerBound <= high + 1) {
            low = min(low, ranges[end].lowerBound)
            high = max(high, ranges[end].upperBound)
            end += 1
        }
        ranges.replaceSubrange(start..<end, with: [low...high])
    }

    /// Adds every offset of `other`.
    public mutating func formUnion(_ other: HandledOffsets) {
        for range in other.ranges { insert(range) }
    }

    /// Forgets the offsets below `offset` (the committed offset passed them).
    public mutating func removeAll(below offset: Int64) {
        let index = firstRange(endingAtOrAbove: offset)
        ranges.removeFirst(index)
        if let first = ranges.first, first.lowerBound < offset { ranges[0] = offset...first.upperBound }
    }

    /// The index of the first range whose upper bound is at least `offset`.
    private func firstRange(endingAtOrAbove offset: Int64) -> Int {
        var low = 0, high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < offset { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Appends the set: its range count, then each range's first offset and length.
    func write(to writer: inout ByteWriter) {
        writer.integer(Int64(ranges.count))
        for range in ranges {
            writer.integer(range.lowerBound)
            writer.integer(range.upperBound - range.lowerBound)
        }
    }

    /// Reads what ``write(to:)`` wrote; an empty set when nothing follows (a record written before
    /// the set existed), nil when malformed.
    static func read(from reader: inout ByteReader) -> HandledOffsets? {
        guard !reader.isAtEnd else { return HandledOffsets() }
        guard let count = reader.integer(), count >= 0, count <= 1 << 20 else { return nil }
        var set = HandledOffsets()
        for _ in 0..<count {
            guard let first = reader.integer(), let length = reader.integer(), length >= 0, first <= Int64.max - length else { return nil }
            set.insert(first...(first + length))
        }
        return set
    }
}
