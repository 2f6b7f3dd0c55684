extension PartitionLog {
    /// Empties the log and starts it again at `offset`: a replica that installs a snapshot
    /// covering every record below `offset` keeps none of its old records, whatever they were.
    /// The old segments are deleted before the new one is created, so a crash in between leaves
    /// an empty log (which the snapshot's owner resets again), never old records beside new ones.
    public func reset(startingAt offset: Int64) throws {
        guard offset >= 0 else { throw LogError(.offsetOutOfRange, "cannot start a log at a negative offset \(offset)") }
        try locked {
            try checkOpen()
            while let oldest = segments.first {
                segments.removeFirst()
                oldest.delete()
            }
            try LogDirectory.syncDirectory(directory, faults: configuration.faults)
            let segment = try Segment(directory: directory, baseOffset: offset, createdAt: clock(), pool: configuration.openFiles,
                                      faults: configuration.faults)
            segments = [segment]
            try segment.sync()
            try LogDirectory.syncDirectory(directory, faults: configuration.faults)
            startOffset = offset
            endOffset = offset
            watermark = offset
            durableOffset = offset
            try epochs.truncate(fromOffset: 0)
            try rebuildProducerState()
        }
        try checkpoint()
    }
}
