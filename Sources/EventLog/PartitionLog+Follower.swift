extension PartitionLog {
    /// Appends batches exactly as the leader stored them (a follower copying its leader): each
    /// batch keeps its offsets and leader epoch, is checked (framing, CRC, records) but not
    /// deduplicated — the producers' state is rebuilt from the headers, so an idempotent
    /// producer's retry is still recognised after this replica becomes leader. `bytes` holds
    /// whole batches back to back (a fetch answer). `completion` runs once the durability
    /// policy is met, with the new log end. Throws — having appended nothing — when the first
    /// batch does not continue the log, and stops at (and throws for) a malformed batch.
    /// `expectingBase` set (a batch off the replication stream, checked against a log end read
    /// earlier): the log must still end exactly there and the first batch start there — checked
    /// under the log's lock, so a truncation since the caller looked refuses the batch rather
    /// than leaving a hole. Nil (a fetch answer): any first batch at or beyond the log end.
    public func appendAsFollower(_ bytes: UnsafeRawBufferPointer, expectingBase: Int64? = nil,
                                 completion: @escaping @Sendable (Result<Int64, any Error>) -> Void) throws {
        var position = 0
        var end: Int64 = logEndOffset
        while position + RecordBatchLayout.logOverhead <= bytes.count {
            let length = Int(bytes.loadBigEndian(at: position + RecordBatchLayout.batchLength, as: Int32.self))
            let size = RecordBatchLayout.logOverhead + length
            guard length > 0, position + size <= bytes.count else {
                throw LogError(.malformedBatch, "a replicated batch at byte \(position) claims \(size) bytes; \(bytes.count - position) remain")
            }
            let batch = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + size)])
            let header = try RecordBatchHeader.validate(batch, maxBatchBytes: max(configuration.maxBatchBytes, size))
            end = try locked {
                try checkOpen()
                guard header.baseOffset >= endOffset else {
                    throw LogError(.offsetOutOfRange, "a replicated batch at offset \(header.baseOffset) does not continue the log ending at \(endOffset)")
                }
                if position == 0, let expectingBase, header.baseOffset != expectingBase || endOffset != expectingBase {
                    throw LogError(.offsetOutOfRange,
                                   "a replicated batch at offset \(header.baseOffset) expected at \(expectingBase) does not exactly continue the log ending at \(endOffset)")
                }
                if let latest = epochs.latestEpoch, header.leaderEpoch < latest {
                    throw LogError(.staleLeaderEpoch, "a replicated batch of leader epoch \(header.leaderEpoch); the log is at epoch \(latest)")
                }
                try rollIfNeeded(adding: size)
                try segments.last!.append(prefix: UnsafeRawBufferPointer(rebasing: batch[..<RecordBatchLayout.magicAt]), batch: batch,
                                          header: header, indexIntervalBytes: configuration.indexIntervalBytes)
                try epochs.assign(epoch: header.leaderEpoch, startOffset: header.baseOffset)
                producers.record(header)
                endOffset = header.nextOffset
                scheduleIntervalFlush()
                return endOffset
            }
            position += size
        }
        let appendedEnd = end
        guard case .everyBatch = configuration.durability else { return completion(.success(appendedEnd)) }
        whenDurable(appendedEnd) { outcome in completion(outcome.map { appendedEnd }) }
    }

    /// What a follower may report to its leader as held, at most `limit`: the log end its
    /// durability policy counts (the fsynced end under ``DurabilityPolicy/everyBatch``, the
    /// appended end otherwise — as an append's completion counts it), and the leader epoch of
    /// the last batch below that end (nil: none). Both are read together under the log's lock,
    /// so they describe one log even while a truncation runs on another thread.
    public func followerProgress(upTo limit: Int64) -> (endOffset: Int64, lastEpoch: Int32?) {
        locked {
            let held: Int64
            if case .everyBatch = configuration.durability { held = durableOffset } else { held = endOffset }
            let end = min(limit, held)
            return (end, epochs.entries.last { $0.startOffset < end }?.epoch)
        }
    }
}
