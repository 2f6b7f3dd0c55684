import ClusterCore
import EventLog
import Foundation

/// A controller voter's Raft log on disk. The log *is* the metadata log (`__metadata-0`): Raft
/// index i is offset i − 1, its term the batch's leader epoch, each entry one batch as a cluster
/// of one writes it. Beside it: `raft-state.json` (term and vote, fsynced), `raft-commit` and `snapshot.json` (the
/// metadata state as of a Raft index, below which the segments are deleted).
///
/// Only the controller's Raft queue calls it. ``persist(_:)`` returns once what Raft handed over
/// is durable: entries fsynced, and a new term or vote fsynced before anything that depends on it
/// is sent. A commit index alone is written without an fsync (losing it only means applying
/// committed entries again after a restart, from the snapshot's state).
final class RaftLogStorage: @unchecked Sendable {
    /// The metadata log.
    let log: PartitionLog
    private let directory: String
    private let snapshots: MetadataSnapshotFile
    private let clock: @Sendable () -> Int64
    private var stored: RaftHardState
    private var statePath: String { directory + "/raft-state.json" }
    /// The commit index, apart from term and vote: it is written without an fsync, and a crash
    /// that tears that write must not take the vote with it.
    private var commitPath: String { directory + "/raft-commit" }

    /// The hard state file's shape (`commit`: only in files written before the commit index got its own).
    private struct HardStateFile: Codable {
        var term: Int64
        var vote: String?
        var commit: Int64?
    }

    /// Opens the log in `dataDirectory`.
    init(dataDirectory: String, faults: LogFaults? = nil, segmentBytes: Int = 8 << 20,
         clock: @escaping @Sendable () -> Int64 = PartitionLog.systemClock) throws {
        directory = dataDirectory + "/__metadata-0"
        var configuration = LogConfiguration()
        configuration.faults = faults
        configuration.durability = .operatingSystem
        configuration.retentionMilliseconds = nil
        configuration.segmentBytes = segmentBytes
        log = try PartitionLog(directory: directory, configuration: configuration, clock: clock)
        snapshots = MetadataSnapshotFile(directory: directory)
        self.clock = clock
        stored = RaftHardState()
    }

    /// What the voter restarts from, and the snapshot's metadata (nil: none, start empty).
    func load() throws -> (RaftPersistentState, MetadataSnapshot?) {
        var persisted = RaftPersistentState()
        if let data = FileManager.default.contents(atPath: statePath) {
            do {
                let file = try JSONDecoder().decode(HardStateFile.self, from: data)
                persisted.hardState = RaftHardState(term: file.term, vote: file.vote, commit: file.commit ?? 0)
            } catch {
                throw MetadataSnapshotError(message: "the Raft state \(statePath) does not decode (\(error))")
            }
        }
        // A torn or missing commit index counts as none: committed entries are applied again.
        if let data = FileManager.default.contents(atPath: commitPath),
           let commit = Int64(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
            persisted.hardState.commit = max(persisted.hardState.commit, commit)
        }
        let snapshot = try snapshots.load()
        var start = log.logStartOffset
        if let snapshot {
            guard let term = snapshot.term else {
                throw MetadataSnapshotError(message: "the metadata snapshot in \(directory) was written by a cluster of one (no Raft term); a controller voter cannot start from it")
            }
            persisted.snapshot = RaftSnapshot(index: snapshot.offset, term: term, voters: [], data: try JSONEncoder().encode(snapshot).map { $0 })
            // A crash while installing a snapshot can leave the log behind it: start it at the snapshot.
            if log.logEndOffset < snapshot.offset || log.logStartOffset > snapshot.offset { try log.reset(startingAt: snapshot.offset) }
            start = snapshot.offset
        } else if log.logStartOffset > 0 {
            throw MetadataSnapshotError(message: "the metadata log in \(directory) starts at \(log.logStartOffset) but has no snapshot below it")
        }
        var position = start
        while position < log.logEndOffset {
            let read = try log.read(from: position, maxBytes: 1 << 20)
            try Self.forEachRecord(in: read.bytes) { record, epoch in
                guard record.offset >= position else { return }
                persisted.entries.append(try MetadataEntry.raftEntry(index: record.offset + 1, term: Int64(epoch), key: record.key, value: record.value))
            }
            guard read.nextOffset > position else { break }
            position = read.nextOffset
        }
        let last = (persisted.snapshot?.index ?? 0) + Int64(persisted.entries.count)
        persisted.hardState.commit = min(max(persisted.hardState.commit, persisted.snapshot?.index ?? 0), last)
        stored = persisted.hardState
        log.setHighWatermark(persisted.hardState.commit)
        return (persisted, snapshot)
    }

    /// Makes what Raft handed over durable: a leader's snapshot replaces the log; entries replace
    /// any stored suffix from their first index and are fsynced; a new term or vote is fsynced.
    func persist(_ ready: RaftReady) throws {
        if let snapshot = ready.snapshot {
            let metadata = try JSONDecoder().decode(MetadataSnapshot.self, from: Data(snapshot.data))
            var saved = metadata
            saved.term = snapshot.term
            try snapshots.save(saved)
            try log.reset(startingAt: snapshot.index)
        }
        if let first = ready.entries.first {
            if first.index - 1 < log.logEndOffset { try log.truncate(to: first.index - 1) }
            let now = clock()
            for entry in ready.entries {
                guard entry.index - 1 == log.logEndOffset else {
                    throw MetadataSnapshotError(message: "Raft entry \(entry.index) does not follow the metadata log's end \(log.logEndOffset)")
                }
                try log.append(MetadataEntry.batch(for: entry, timestamp: now), leaderEpoch: Int32(clamping: entry.term))
            }
            try log.flush()
        }
        if let hardState = ready.hardState, hardState != stored {
            if hardState.term != stored.term || hardState.vote != stored.vote {
                let file = HardStateFile(term: hardState.term, vote: hardState.vote, commit: nil)
                try DurableFile.replace(statePath, in: directory, with: try JSONEncoder().encode(file), sync: true)
            }
            if hardState.commit != stored.commit {
                try DurableFile.replace(commitPath, in: directory, with: Data("\(hardState.commit)\n".utf8), sync: false)
            }
            stored = hardState
            log.advanceHighWatermark(to: min(hardState.commit, log.logEndOffset))
        }
    }

    /// Writes a snapshot of the state applied through Raft index `index` (of `term`) and deletes
    /// the segments wholly below it.
    func compact(_ snapshot: MetadataSnapshot) throws {
        try snapshots.save(snapshot)
        try log.rollSegment()
        try log.deleteSegments(below: snapshot.offset)
    }

    /// The snapshot file's bytes (for an observer that needs records compacted away).
    func snapshotBytes() throws -> (offset: Int64, bytes: [UInt8])? {
        guard let snapshot = try snapshots.load() else { return nil }
        return (snapshot.offset, Array(try JSONEncoder().encode(snapshot)))
    }

    /// Calls `body` with each record of whole batches in `bytes` and its batch's leader epoch.
    static func forEachRecord(in bytes: [UInt8], _ body: (Record, Int32) throws -> Void) throws {
        try bytes.withUnsafeBytes { raw in
            var position = 0
            while raw.count - position >= RecordBatchLayout.headerSize {
                let slice = UnsafeRawBufferPointer(rebasing: raw[position...])
                let header = try RecordBatchHeader(parsing: slice)
                guard header.size <= slice.count else { break }
                for record in try RecordDecoder.records(in: UnsafeRawBufferPointer(rebasing: slice[..<header.size])) {
                    try body(record, header.leaderEpoch)
                }
                position += header.size
            }
        }
    }

    func close() throws { try log.close() }
}
