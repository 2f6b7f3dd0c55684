/// When appended batches are made durable, and so when an append is acknowledged.
public enum DurabilityPolicy: Sendable, Hashable {
    /// fsync before acknowledging each append; concurrent appenders share one fsync (group commit).
    case everyBatch
    /// Acknowledge once written to the OS; a background flush runs at this interval.
    case interval(Duration)
    /// Acknowledge once written to the OS; the OS decides when to write back (fsync on roll and close).
    case operatingSystem
}

/// How a partition log stores, bounds, retains and compacts its records.
public struct LogConfiguration: Sendable, Hashable {
    /// Roll to a new segment when the active one reaches this size (≤ 2 GiB: positions are 32-bit).
    public var segmentBytes = 1 << 30
    /// Roll to a new segment when the active one is this old (ms), if it has data.
    public var segmentMilliseconds: Int64 = 7 * 24 * 3_600_000
    /// Bytes between sparse index entries.
    public var indexIntervalBytes = 4096
    /// Durability of appends.
    public var durability = DurabilityPolicy.interval(.milliseconds(100))
    /// Largest batch accepted (a batch larger than `segmentBytes` gets a segment of its own).
    public var maxBatchBytes = 8 << 20
    /// Largest single record accepted (its encoded size).
    public var maxRecordBytes = 1 << 20
    /// Most segments a log may hold. (Their descriptors are bounded across logs by `openFiles`.)
    public var maxOpenSegments = 10_000
    /// Delete segments whose newest record is older than this (ms); `nil` keeps them.
    public var retentionMilliseconds: Int64? = 7 * 24 * 3_600_000
    /// Delete the oldest segments while the log is larger than this; `nil` for no bound.
    public var retentionBytes: Int?
    /// Compact by key (keep the newest record per key) instead of only deleting old segments.
    public var compacted = false
    /// How long a tombstone survives compaction (ms), so consumers see the delete.
    public var tombstoneRetentionMilliseconds: Int64 = 24 * 3_600_000

    /// The descriptors of segment files, bounded by an LRU shared with the other logs using it.
    public var openFiles = LogFilePool.shared
    /// The threads that fsync for this log (group commit and interval flushes), shared with the
    /// other logs using it.
    public var flusher = LogFlusher.shared

    /// Faults to inject (tests only; `nil` in production).
    public var faults: LogFaults?

    /// The defaults: 1 GiB segments, interval fsync every 100 ms, 7 days of retention.
    public init() {}

    /// Checks the bounds; a clear error names the first one that is off.
    public func validate() throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw LogError(.invalidConfiguration, message) }
        }
        try require(segmentBytes >= 1024 && segmentBytes <= Int(Int32.max), "segmentBytes must be 1 KiB…2 GiB, got \(segmentBytes)")
        try require(segmentMilliseconds > 0, "segmentMilliseconds must be positive")
        try require(indexIntervalBytes >= 1, "indexIntervalBytes must be positive")
        try require(maxBatchBytes >= RecordBatchLayout.headerSize && maxBatchBytes <= 256 << 20,
                    "maxBatchBytes must be between a batch header (61 bytes) and 256 MiB, got \(maxBatchBytes)")
        try require(maxRecordBytes >= 1 && maxRecordBytes <= maxBatchBytes, "maxRecordBytes must be 1…maxBatchBytes")
        try require(maxOpenSegments >= 2, "maxOpenSegments must be at least 2")
        try require((retentionBytes ?? 1) >= 0 && (retentionMilliseconds ?? 1) >= 0, "retention bounds must not be negative")
        if case .interval(let interval) = durability {
            try require(interval > .zero, "the fsync interval must be positive")
        }
    }
}
