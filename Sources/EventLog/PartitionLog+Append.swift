/// Where an appended batch landed.
public struct AppendResult: Sendable, Hashable {
    /// Offset of the batch's first record.
    public var firstOffset: Int64
    /// Offset of its last record.
    public var lastOffset: Int64
    /// The batch's size in bytes.
    public var size: Int
    /// The batch was a retry of one already stored (same producer and sequence): nothing was
    /// appended, and the offsets are those of the stored batch.
    public var duplicate = false
    /// The leader epoch the batch was stored with.
    public var leaderEpoch: Int32 = 0
}

extension PartitionLog {
    /// Appends one encoded batch (as a producer sent it): checks its framing, CRC and limits,
    /// assigns its offsets and leader epoch without re-encoding, writes it, and returns once the
    /// durability policy is met.
    @discardableResult
    public func append(_ batch: [UInt8], leaderEpoch: Int32 = 0) throws -> AppendResult {
        try batch.withUnsafeBytes { try append($0, leaderEpoch: leaderEpoch) }
    }

    /// Appends one encoded batch from raw bytes, returning once the durability policy is met.
    @discardableResult
    public func append(_ batch: UnsafeRawBufferPointer, leaderEpoch: Int32 = 0) throws -> AppendResult {
        let result = try write(batch, leaderEpoch: leaderEpoch)
        if case .everyBatch = configuration.durability {
            try waitUntilDurable(result.lastOffset + 1)
        }
        return result
    }

    /// Appends one batch without blocking for durability: the batch is checked and written now
    /// (errors are thrown at once), and `completion` runs — on a thread of the log's ``LogFlusher`` for
    /// fsync-every-batch, inline otherwise — once the policy is met. Many appends in flight
    /// share one fsync: this is how a node acknowledges many producers with few fsyncs.
    public func append(
        _ batch: UnsafeRawBufferPointer, leaderEpoch: Int32 = 0,
        completion: @escaping @Sendable (Result<AppendResult, any Error>) -> Void
    ) throws {
        let result = try write(batch, leaderEpoch: leaderEpoch)
        guard case .everyBatch = configuration.durability else {
            completion(.success(result))
            return
        }
        whenDurable(result.lastOffset + 1) { outcome in completion(outcome.map { result }) }
    }

    /// Appends one batch and resumes once the durability policy is met (see the completion form).
    @discardableResult
    public func append(_ batch: [UInt8], leaderEpoch: Int32 = 0) async throws -> AppendResult {
        try await withCheckedThrowingContinuation { continuation in
            do {
                try batch.withUnsafeBytes { try append($0, leaderEpoch: leaderEpoch) { continuation.resume(with: $0) } }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// Checks and writes one batch under the lock, assigning its offsets and epoch.
    private func write(_ batch: UnsafeRawBufferPointer, leaderEpoch: Int32) throws -> AppendResult {
        let header = try checkIncoming(batch)
        let result: AppendResult = try locked {
            try checkOpen()
            if let latest = epochs.latestEpoch, leaderEpoch < latest {
                throw LogError(.staleLeaderEpoch, "batch from leader epoch \(leaderEpoch); the log is at epoch \(latest)")
            }
            if case .duplicate(let firstOffset) = try producers.check(header) {
                return AppendResult(firstOffset: firstOffset, lastOffset: firstOffset + Int64(header.lastOffsetDelta),
                                    size: batch.count, duplicate: true)
            }
            try rollIfNeeded(adding: batch.count)
            let base = endOffset
            var prefix = [UInt8](repeating: 0, count: RecordBatchLayout.magicAt)
            prefix.withUnsafeMutableBytes { bytes in
                bytes.storeBigEndian(base, at: RecordBatchLayout.baseOffset)
                bytes.storeBigEndian(Int32(batch.count - RecordBatchLayout.logOverhead), at: RecordBatchLayout.batchLength)
                bytes.storeBigEndian(leaderEpoch, at: RecordBatchLayout.leaderEpoch)
            }
            var stored = header
            stored.baseOffset = base
            stored.leaderEpoch = leaderEpoch
            try prefix.withUnsafeBytes { prefix in
                try segments.last!.append(prefix: prefix, batch: batch, header: stored,
                                           indexIntervalBytes: configuration.indexIntervalBytes)
            }
            try epochs.assign(epoch: leaderEpoch, startOffset: base)
            producers.record(stored)
            endOffset = stored.nextOffset
            scheduleIntervalFlush()
            return AppendResult(firstOffset: base, lastOffset: stored.lastOffset, size: batch.count, leaderEpoch: leaderEpoch)
        }
        return result
    }

    /// Checks an incoming batch before it takes the lock.
    private func checkIncoming(_ batch: UnsafeRawBufferPointer) throws -> RecordBatchHeader {
        let header = try RecordBatchHeader.validate(batch, maxBatchBytes: configuration.maxBatchBytes)
        try header.checkRecords(of: batch, limits: RecordLimits(maxRecordBytes: configuration.maxRecordBytes,
                                                               requireKeys: configuration.compacted))
        return header
    }

    /// Starts a new segment when the active one would pass its size bound or is too old.
    /// The old segment is fsynced first, so only the active segment can ever have a torn tail.
    func rollIfNeeded(adding bytes: Int) throws {
        let active = segments.last!
        let tooBig = active.size + bytes > configuration.segmentBytes
        let tooOld = active.size > 0 && clock() - active.createdAt >= configuration.segmentMilliseconds
        guard active.size > 0, tooBig || tooOld else { return }
        try roll()
    }

    /// Closes the active segment (durably) and opens a new one at the log end.
    func roll() throws {
        guard segments.count < configuration.maxOpenSegments else {
            throw LogError(.tooLarge, "the log has \(segments.count) segments, the maxOpenSegments limit; lower retention or raise the limit")
        }
        do {
            try syncSegment(segments.last!)
        } catch {
            poison(after: error)
            throw syncFailure!
        }
        durableOffset = endOffset
        let segment = try Segment(directory: directory, baseOffset: endOffset, createdAt: clock(), pool: configuration.openFiles, faults: configuration.faults)
        segments.append(segment)
        try LogDirectory.syncDirectory(directory, faults: configuration.faults)
        // Every closed segment is covered: compaction may now remove batches from them.
        try ProducerSnapshot(offset: endOffset, table: producers).save(to: directory, faults: configuration.faults)
    }

    /// Forces a new segment now (tests and tools).
    public func rollSegment() throws {
        try locked {
            try checkOpen()
            if segments.last!.size > 0 { try roll() }
        }
    }
}

extension PartitionLog {
    /// Rebuilds the idempotent producers' state from the batch headers of every segment (on open
    /// and after a truncation), so a retry after a restart is still recognised.
    /// Starts from the producer snapshot when one covers a prefix of the log (batches compacted
    /// away are in it), then reads the headers after it.
    func rebuildProducerState() throws {
        producers.reset()
        var from: Int64 = 0
        if let snapshot = ProducerSnapshot.load(from: directory), snapshot.offset <= endOffset {
            producers = snapshot.table
            from = snapshot.offset
        }
        for segment in segments where segment.nextOffset > from || segment === segments.last {
            var position = 0
            while position + RecordBatchLayout.headerSize <= segment.size {
                let bytes = try segment.file.read(at: position, count: RecordBatchLayout.headerSize)
                guard let header = try? bytes.withUnsafeBytes({ try RecordBatchHeader(parsing: $0) }), header.size > 0 else { break }
                if header.lastOffset >= from { producers.record(header) }
                position += header.size
            }
        }
    }

    /// Writes the producer snapshot as of the log end (at close).
    func saveProducerSnapshot() throws {
        try ProducerSnapshot(offset: endOffset, table: producers).save(to: directory, faults: configuration.faults)
    }
}
