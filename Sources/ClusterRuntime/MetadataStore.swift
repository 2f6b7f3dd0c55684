import ClusterCore
import EventLog
import Foundation
import SchemaRegistry

/// The node's metadata log: every metadata change is validated against the state decided so far,
/// appended to `<data>/__metadata-0`, and applied once it is durable (fsync before it is
/// visible). Commits never wait for the fsync on the caller's thread: the completion form answers
/// from a serial apply queue, in log order. Every ``Limits/snapshotEvery`` records the state is
/// written as a snapshot and the segments below it are deleted, so the log — and a restart's
/// replay — stays bounded however long the history. (With several controller voters this log is
/// what Raft replicates; the state machine does not change.) The log holds the cluster's records
/// (no key) and the schema registry's (key `registry`).
final class MetadataStore: MetadataLog, @unchecked Sendable {
    /// Bounds of the metadata log.
    struct Limits: Sendable {
        /// Records applied between snapshots.
        var snapshotEvery = 10_000
        /// Segment size (the unit in which the log below a snapshot is deleted).
        var segmentBytes = 8 << 20
    }

    /// What opening the store found.
    struct Recovery: Sendable {
        /// The offset the loaded snapshot covers up to (nil: none, the whole log was replayed).
        var snapshotOffset: Int64?
        /// Records replayed after the snapshot.
        var replayedRecords = 0
        /// The log's segments when opened.
        var segments = 0
    }

    /// One entry of the log, as applied.
    private enum Entry {
        case metadata(MetadataRecord)
        case registry(RegistryRecord)
    }

    // `current`, `registry`, `decided`, `pending`, `nextSequence` and the snapshot counters are
    // guarded by `lock`, which every append to the log takes (so appends are numbered in log
    // order) but which is never held across an fsync. `registryLock` serialises registry decisions.
    private let lock = NSLock()
    private let registryLock = NSLock()
    /// What is durable and visible.
    private var current = MetadataState()
    private var registry = RegistryState()
    /// `current` plus the records appended but not yet durable: what new records validate against.
    private var decided = MetadataState()
    /// Entries appended but not yet durable, numbered in log order, with their offsets.
    private var pending: [(sequence: Int64, offset: Int64, entry: Entry)] = []
    private var nextSequence: Int64 = 0
    /// The offset after the last applied entry, and how many were applied since the last snapshot.
    private var appliedEnd: Int64 = 0
    private var sinceSnapshot = 0
    private static let registryKey = Array("registry".utf8)
    private let log: PartitionLog
    private let clock: @Sendable () -> Int64
    private let limits: Limits
    private let snapshots: MetadataSnapshotFile
    /// What opening the store found.
    let recovery: Recovery
    /// Applies durable records and runs completions in log order, off the flusher's stack.
    private let applying = DispatchQueue(label: "ganglion.metadata.apply")

    init(directory: String, clock: @escaping @Sendable () -> Int64 = PartitionLog.systemClock, faults: LogFaults? = nil,
         limits: Limits = Limits()) throws {
        var configuration = LogConfiguration()
        configuration.faults = faults
        configuration.durability = .everyBatch
        configuration.retentionMilliseconds = nil
        configuration.segmentBytes = limits.segmentBytes
        log = try PartitionLog(directory: directory + "/__metadata-0", configuration: configuration, clock: clock)
        self.clock = clock
        self.limits = limits
        snapshots = MetadataSnapshotFile(directory: directory + "/__metadata-0")
        var recovery = Recovery(segments: log.segmentBaseOffsets.count)
        var position = log.logStartOffset
        if let snapshot = try snapshots.load() {
            current = snapshot.metadata
            registry = snapshot.registry
            recovery.snapshotOffset = snapshot.offset
            position = max(position, snapshot.offset)
        }
        let decoder = JSONDecoder()
        while position < log.logEndOffset {
            let read = try log.read(from: position, maxBytes: 1 << 20)
            for record in try RecordDecoder.records(inBatches: read.bytes) where record.offset >= position {
                guard let value = record.value else { continue }
                if record.key == Self.registryKey {
                    registry.apply(try decoder.decode(RegistryRecord.self, from: Data(value)))
                } else {
                    current.apply(try decoder.decode(MetadataRecord.self, from: Data(value)))
                }
                recovery.replayedRecords += 1
            }
            guard read.nextOffset > position else { break }
            position = read.nextOffset
        }
        self.recovery = recovery
        decided = current
        appliedEnd = log.logEndOffset
        log.setHighWatermark(log.logEndOffset)
    }

    /// The metadata now (what is durable).
    var state: MetadataState { lock.withLock { current } }

    /// Decides a record against the state decided so far (durable or on its way), appends it, and
    /// once it is durable applies it and calls `completion` with it — on a serial queue, in log
    /// order, never on the caller's thread. A refusal (the decision threw, or the append failed)
    /// reaches `completion` too.
    func commit(deciding decide: @escaping (MetadataState) throws -> MetadataRecord,
                completion: @escaping @Sendable (Result<MetadataRecord, any Error>) -> Void) {
        do {
            try lock.withLock {
                let record = try decide(decided)
                try decided.validate(record)
                try append(.metadata(record), key: nil, value: try JSONEncoder().encode(record)) { result in
                    completion(result.map { _ in record })
                }
                decided.apply(record)
            }
        } catch {
            applying.async { completion(.failure(error)) }
        }
    }

    /// Appends an entry (call under `lock`); `completion` runs on the apply queue once it is
    /// applied, or with the failure.
    private func append(_ entry: Entry, key: [UInt8]?, value: Data,
                        completion: @escaping @Sendable (Result<Void, any Error>) -> Void) throws {
        var batch = RecordBatchBuilder()
        batch.append(key: key, value: Array(value), timestamp: clock())
        let queue = applying, sequence = nextSequence
        try batch.build().withUnsafeBytes { raw in
            try log.append(raw) { [self] result in
                queue.async { self.finish(result.map { _ in () }, sequence: sequence, completion: completion) }
            }
        }
        nextSequence += 1
        pending.append((sequence, log.logEndOffset - 1, entry))
    }

    /// Applies the entries made durable by an append's outcome (on the apply queue).
    private func finish(_ result: Result<Void, any Error>, sequence: Int64, completion: @Sendable (Result<Void, any Error>) -> Void) {
        switch result {
        case .success:
            let snapshotDue: Bool = lock.withLock {
                // Durability is a prefix of the log: every entry appended before this one is durable too.
                while let first = pending.first, first.sequence <= sequence {
                    switch first.entry {
                    case .metadata(let record): current.apply(record)
                    case .registry(let record): registry.apply(record)
                    }
                    appliedEnd = first.offset + 1
                    sinceSnapshot += 1
                    pending.removeFirst()
                }
                return sinceSnapshot >= limits.snapshotEvery
            }
            log.advanceHighWatermark(to: lock.withLock { appliedEnd })
            completion(.success(()))
            if snapshotDue { takeSnapshot() }
        case .failure(let error):
            lock.withLock {
                // The log refuses everything after a failed fsync; what was decided is undone.
                pending.removeAll()
                decided = current
            }
            completion(.failure(error))
        }
    }

    /// Writes the applied state as a snapshot, then deletes the log's segments wholly below it
    /// (on the apply queue; a failure leaves the log as it was, to try again later).
    private func takeSnapshot() {
        let snapshot: MetadataSnapshot = lock.withLock {
            sinceSnapshot = 0
            return MetadataSnapshot(offset: appliedEnd, metadata: current, registry: registry)
        }
        do {
            try snapshots.save(snapshot)
            try log.rollSegment()
            try log.deleteSegments(below: snapshot.offset)
        } catch {
            lock.withLock { sinceSnapshot = limits.snapshotEvery / 2 }  // retry sooner
        }
    }

    /// The registry's state now.
    var registryState: RegistryState { lock.withLock { registry } }

    /// Decides a registry change against the current state, appends it and returns once it is
    /// durable and applied (called off the socket thread: the registry queue waits for the
    /// fsync, holding only the registry's lock).
    func updateRegistry<Answer>(_ decide: (RegistryState) throws -> (RegistryRecord?, Answer)) throws -> Answer {
        try registryLock.withLock {
            let (record, answer) = try decide(registryState)
            guard let record else { return answer }
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var outcome: Result<Void, any Error> = .success(())
            try lock.withLock {
                try append(.registry(record), key: Self.registryKey, value: try JSONEncoder().encode(record)) { result in
                    outcome = result
                    done.signal()
                }
            }
            done.wait()
            try outcome.get()
            return answer
        }
    }

    func close() throws { try log.close() }
}
