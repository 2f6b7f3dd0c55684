import Foundation

/// The durable, segmented log of one partition: appends batches with dense offsets, serves
/// ranges of stored bytes, and recovers, truncates, retains and compacts.
///
/// Thread-safe: appends are ordered under one lock; the fsync of group commit (on a thread of the
/// configuration's shared ``LogFlusher``) and the reads of segment files happen outside it. Time
/// comes from `clock` (milliseconds since the epoch) so retention and compaction are testable.
public final class PartitionLog: @unchecked Sendable {
    // Every mutable property below is guarded by `state`.
    let state = NSLock()
    /// Where the segment files live.
    public let directory: String
    /// The configuration the log was opened with.
    public let configuration: LogConfiguration
    /// What recovery found and did when the log was opened.
    public let recovery: RecoveryReport
    let clock: @Sendable () -> Int64
    var segments: [Segment]
    var endOffset: Int64
    var startOffset: Int64
    var watermark: Int64
    var durableOffset: Int64
    var waiters: [DurabilityWaiter] = []
    /// An interval flush is scheduled with the flusher.
    var intervalFlushScheduled = false
    var syncs: UInt64 = 0
    var closed = false
    /// Set when an fsync failed: the log refuses appends and acknowledgements until reopened.
    var syncFailure: LogError?
    /// Set by ``discard()``: the log's directory is no longer its own.
    var deleted = false
    /// Held for a whole compaction pass (passes on one log run one at a time); not the log's lock.
    let compaction = NSLock()
    var epochs: LeaderEpochCache
    var producers = ProducerStateTable()

    /// The system clock in milliseconds since the epoch.
    public static let systemClock: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Opens the log in `directory` (creating it), recovering the active segment's tail.
    public init(directory: String, configuration: LogConfiguration = LogConfiguration(),
                clock: @escaping @Sendable () -> Int64 = PartitionLog.systemClock) throws {
        try configuration.validate()
        self.directory = directory
        self.configuration = configuration
        self.clock = clock
        try LogDirectory.create(directory, faults: configuration.faults)
        let checkpoint = try LogCheckpoint.load(from: directory)
        let opened = try Self.openSegments(in: directory, configuration: configuration, clock: clock,
                                           firstOffset: checkpoint?.logStartOffset ?? 0)
        segments = opened.segments
        recovery = opened.report
        endOffset = segments.last!.nextOffset
        startOffset = max(checkpoint?.logStartOffset ?? 0, segments.first!.baseOffset)
        startOffset = min(startOffset, endOffset)
        watermark = min(max(checkpoint?.highWatermark ?? 0, startOffset), endOffset)
        durableOffset = endOffset
        epochs = try LeaderEpochCache(directory: directory)
        try epochs.truncate(fromOffset: endOffset)
        try rebuildProducerState()
    }

    /// The offset the next appended record gets (the log end offset).
    public var logEndOffset: Int64 { locked { endOffset } }
    /// The first offset still stored.
    public var logStartOffset: Int64 { locked { startOffset } }
    /// Offsets below this are committed (set by replication; consumers read below it).
    public var highWatermark: Int64 { locked { watermark } }
    /// Offsets below this are fsynced.
    public var durableEndOffset: Int64 { locked { durableOffset } }
    /// Total bytes of all segments.
    public var sizeInBytes: Int { locked { segments.reduce(0) { $0 + $1.size } } }
    /// The base offsets of the segments, oldest first.
    public var segmentBaseOffsets: [Int64] { locked { segments.map(\.baseOffset) } }
    /// How many fsyncs of appended data the log has done (group commit shares them).
    public var fsyncCount: UInt64 { locked { syncs } }
    /// The newest leader epoch appended, if any.
    public var latestLeaderEpoch: Int32? { locked { epochs.latestEpoch } }

    /// Sets the high watermark (clamped to the log's range); persisted by ``checkpoint()``.
    public func setHighWatermark(_ offset: Int64) {
        locked { watermark = min(max(offset, startOffset), endOffset) }
    }

    /// Moves the high watermark up to `offset` (never down: appends completing out of order on
    /// several threads cannot lower it), within the log.
    public func advanceHighWatermark(to offset: Int64) {
        locked { watermark = min(max(offset, watermark, startOffset), endOffset) }
    }

    /// Where `epoch` ended in this log and the largest epoch ≤ it that the log has (for a
    /// follower deciding where to truncate), or `nil` when the log has no such epoch.
    public func endOffset(forLeaderEpoch epoch: Int32) -> (epoch: Int32, endOffset: Int64)? {
        locked { epochs.endOffset(for: epoch, logEnd: endOffset) }
    }

    /// Persists the high watermark and log-start offset.
    public func checkpoint() throws {
        // Under the lock: a log discarded for deletion never writes into a directory that may by
        // then belong to a new topic of the same name.
        try locked {
            guard !deleted else { return }
            try LogCheckpoint(highWatermark: watermark, logStartOffset: startOffset).save(to: directory)
        }
    }

    /// fsyncs everything appended so far.
    public func flush() throws {
        let target = locked { endOffset }
        try waitUntilDurable(target)
    }

    /// Flushes, persists the checkpoint and closes; later calls fail with ``LogError/Code/closed``.
    public func close() throws {
        defer { locked { closed = true } }
        if let failure = locked({ syncFailure }) { throw failure }  // nothing unsynced is vouched for
        try flush()
        try checkpoint()
        try locked { if !deleted { try saveProducerSnapshot() } }
        locked { closed = true }
    }

    /// Closes the log without flushing it, for a log about to be deleted: appends and reads are
    /// refused from now on, and appends still waiting for an fsync fail, all with `deleted`.
    /// Waits for a retention or compaction pass in progress on the log (they hold its lock), so
    /// once it returns nothing of this log object touches its files again.
    public func discard() {
        let waiting: [DurabilityWaiter] = locked {
            closed = true
            deleted = true
            defer { waiters = [] }
            return waiters
        }
        for waiter in waiting { waiter.notify(.failure(LogError(.deleted, "the log in \(directory) was deleted"))) }
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        state.lock()
        defer { state.unlock() }
        return try body()
    }

    func checkOpen() throws {
        if closed { throw deleted ? LogError(.deleted, "the log in \(directory) was deleted") : LogError(.closed, "the log in \(directory) is closed") }
        if let syncFailure { throw syncFailure }
    }

    /// Poisons the log after a failed fsync (call under the lock): what the OS did not make
    /// durable may already be gone from its cache, so no later fsync can vouch for it. The
    /// flusher fails every waiter from now on.
    func poison(after error: any Error) {
        if syncFailure == nil {
            syncFailure = LogError(.io, "an fsync of \(directory) failed (\(error)); the log refuses appends until it is reopened and recovered")
        }
        if !waiters.isEmpty { configuration.flusher.requestFlush(self) }
    }
}

/// What recovery found when a log was opened.
public struct RecoveryReport: Sendable, Hashable {
    /// The segment whose tail was scanned.
    public var activeSegment: String = ""
    /// Bytes cut from a torn or corrupt tail (0 when the tail was clean).
    public var truncatedBytes = 0
    /// Why the tail was cut.
    public var truncationReason: String?
    /// Positions of corrupt batches followed by good ones: kept, reported, never served.
    public var corruptPositions: [Int] = []
    /// Segments whose index files were missing or damaged and were rebuilt.
    public var rebuiltIndexes: [String] = []
    /// Leftover files of an interrupted compaction or checkpoint that were removed.
    public var removedLeftovers: [String] = []
}
