extension PartitionLog {
    /// Opens every segment in `directory`: closed segments load (or rebuild) their indexes; the
    /// active one is scanned and its torn tail truncated.
    static func openSegments(in directory: String, configuration: LogConfiguration,
                             clock: @Sendable () -> Int64, firstOffset: Int64) throws -> (segments: [Segment], report: RecoveryReport) {
        var report = RecoveryReport()
        var bases: [Int64] = []
        for name in try LogDirectory.list(directory) {
            if name.hasSuffix(".tmp") || name.hasSuffix(".cleaned") {
                LogDirectory.remove("\(directory)/\(name)")
                report.removedLeftovers.append(name)
            } else if name.hasSuffix(".log"), let base = Int64(name.dropLast(4)) {
                bases.append(base)
            }
        }
        bases.sort()
        guard bases.count <= configuration.maxOpenSegments else {
            throw LogError(.tooLarge, "\(directory) has \(bases.count) segments, more than maxOpenSegments \(configuration.maxOpenSegments)")
        }
        let fresh = bases.isEmpty
        if fresh { bases = [firstOffset] }
        var segments: [Segment] = []
        for base in bases.dropLast() {
            let segment = try Segment(directory: directory, baseOffset: base, createdAt: clock(), pool: configuration.openFiles, faults: configuration.faults)
            if try segment.loadIndexes(indexIntervalBytes: configuration.indexIntervalBytes,
                                       maxBatchBytes: configuration.maxBatchBytes) {
                report.rebuiltIndexes.append(segment.logPath)
            }
            segments.append(segment)
        }
        let active = try Segment(directory: directory, baseOffset: bases.last!, createdAt: clock(), pool: configuration.openFiles, faults: configuration.faults)
        let scan = try active.scan(indexIntervalBytes: configuration.indexIntervalBytes,
                                   maxBatchBytes: configuration.maxBatchBytes,
                                   expectedFirstOffset: segments.last?.nextOffset ?? active.baseOffset)
        report.activeSegment = active.logPath
        report.corruptPositions = scan.corruptPositions
        if scan.validSize < active.size {
            report.truncatedBytes = active.size - scan.validSize
            report.truncationReason = scan.stopReason
            try active.truncate(toPosition: scan.validSize, nextOffset: active.nextOffset)
        }
        try active.sync()
        // A new log's first segment files are entries of its directory: durable there too.
        if fresh { try LogDirectory.syncDirectory(directory, faults: configuration.faults) }
        segments.append(active)
        return (segments, report)
    }
}
