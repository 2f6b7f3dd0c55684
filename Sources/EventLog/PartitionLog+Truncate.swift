extension PartitionLog {
    /// Removes every batch that holds an offset ≥ `offset` (a follower dropping what a new leader
    /// never had). The batch containing `offset` goes whole; returns the new log end offset.
    @discardableResult
    public func truncate(to offset: Int64) throws -> Int64 {
        try locked {
            try checkOpen()
            guard offset < endOffset else { return endOffset }
            guard offset >= startOffset else {
                throw LogError(.offsetOutOfRange, "cannot truncate to \(offset), below the log start \(startOffset)")
            }
            // The first batch holding an offset ≥ `offset` (compaction may have left gaps).
            var cut: (index: Int, position: Int, base: Int64)?
            var index = segments.lastIndex { $0.baseOffset <= offset } ?? 0
            while cut == nil, index < segments.count {
                if let (position, header) = try segments[index].locate(offset: offset, limit: segments[index].size) {
                    cut = (index, position, header.baseOffset)
                }
                index += 1
            }
            guard let cut else { return endOffset }
            while segments.count - 1 > cut.index { segments.removeLast().delete() }
            var segment = segments.last!
            let contentEnd = try segment.endOffset(before: cut.position)
            try segment.truncate(toPosition: cut.position, nextOffset: cut.base)
            if contentEnd != cut.base {
                // The segment's contents cannot say the log ends at `cut.base` (a compaction gap
                // precedes it): continue in a fresh segment there, so a restart resumes at the
                // same end.
                try segment.sync()
                segment = try Segment(directory: directory, baseOffset: cut.base, createdAt: clock(), pool: configuration.openFiles, faults: configuration.faults)
                segments.append(segment)
            }
            endOffset = segment.nextOffset
            try segment.sync()
            try LogDirectory.syncDirectory(directory, faults: configuration.faults)
            try epochs.truncate(fromOffset: endOffset)
            watermark = min(watermark, endOffset)
            durableOffset = min(durableOffset, endOffset)
            try rebuildProducerState()
            return endOffset
        }
    }
}

/// What a retention pass deleted.
public struct RetentionResult: Sendable, Hashable {
    /// Base offsets of the deleted segments.
    public var deletedSegments: [Int64] = []
    /// Bytes freed.
    public var deletedBytes = 0
    /// The log-start offset afterwards.
    public var logStartOffset: Int64 = 0
}

extension PartitionLog {
    /// Deletes whole segments older than the time bound or beyond the size bound, oldest first.
    /// Never deletes the active segment, nor a segment holding offsets at or above the high
    /// watermark (they may not be replicated yet).
    @discardableResult
    public func applyRetention() throws -> RetentionResult {
        let now = clock()
        let result: RetentionResult = try locked {
            try checkOpen()
            var result = RetentionResult()
            var total = segments.reduce(0) { $0 + $1.size }
            while segments.count > 1, let oldest = segments.first, oldest.nextOffset <= watermark {
                let expired = configuration.retentionMilliseconds.map { oldest.maxTimestamp < now - $0 } ?? false
                let oversized = configuration.retentionBytes.map { total > $0 } ?? false
                guard expired || oversized else { break }
                segments.removeFirst()
                oldest.delete()
                total -= oldest.size
                result.deletedSegments.append(oldest.baseOffset)
                result.deletedBytes += oldest.size
            }
            if !result.deletedSegments.isEmpty {
                startOffset = max(startOffset, segments.first!.baseOffset)
                try epochs.advanceStart(to: startOffset)
            }
            result.logStartOffset = startOffset
            return result
        }
        if !result.deletedSegments.isEmpty { try checkpoint() }
        return result
    }
}

extension PartitionLog {
    /// Deletes the closed segments wholly below `offset` (a snapshot covers them), moving the log
    /// start up; returns the new log start. Never deletes the active segment.
    @discardableResult
    public func deleteSegments(below offset: Int64) throws -> Int64 {
        let (start, deleted): (Int64, Bool) = try locked {
            try checkOpen()
            var deleted = false
            while segments.count > 1, let oldest = segments.first, oldest.nextOffset <= offset {
                segments.removeFirst()
                oldest.delete()
                deleted = true
            }
            if deleted {
                startOffset = max(startOffset, segments.first!.baseOffset)
                try epochs.advanceStart(to: startOffset)
            }
            return (startOffset, deleted)
        }
        if deleted { try checkpoint() }
        return start
    }
}

extension PartitionLog {
    /// Deletes the leading closed segments that hold no records (compaction emptied them),
    /// moving the log start past them; returns how many were deleted. For internal compacted
    /// logs that are only replayed from their start (a consumer reading from below the new start
    /// would be out of range).
    @discardableResult
    public func deleteLeadingEmptySegments() throws -> Int {
        let deleted: Int = try locked {
            try checkOpen()
            var deleted = 0
            while segments.count > 1, let oldest = segments.first, oldest.size == 0 {
                segments.removeFirst()
                oldest.delete()
                deleted += 1
            }
            if deleted > 0 {
                startOffset = max(startOffset, segments.first!.baseOffset)
                try epochs.advanceStart(to: startOffset)
            }
            return deleted
        }
        if deleted > 0 { try checkpoint() }
        return deleted
    }
}
