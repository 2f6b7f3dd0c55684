import ClusterCore
import EventLog
import Foundation
import SchemaRegistry

/// The node's metadata log: every metadata change is validated against the state decided so far,
/// appended to `<data>/__metadata-0`, and applied once it is durable (fsync before it is
/// visible). Commits never wait for the fsync on the caller's thread: the completion form answers
/// from the log's flusher. On open the log is replayed, so a restart resumes exactly. (With
/// several controller voters this log is what Raft replicates; the state machine does not change.)
/// The log holds the cluster's records (no key) and the schema registry's (key `registry`).
final class MetadataStore: RegistryStore, @unchecked Sendable {
    // `current`, `decided` and `pending` are guarded by `lock`; `registry` by `registryLock`; the
    // log is thread-safe. Neither lock is held across an fsync.
    private let lock = NSLock()
    private let registryLock = NSLock()
    /// What is durable and visible.
    private var current = MetadataState()
    /// `current` plus the records appended but not yet durable: what new records validate against.
    private var decided = MetadataState()
    /// Records appended but not yet durable, numbered in the order they were appended.
    private var pending: [(sequence: Int64, record: MetadataRecord)] = []
    private var nextSequence: Int64 = 0
    private var registry = RegistryState()
    private static let registryKey = Array("registry".utf8)
    private let log: PartitionLog
    private let clock: @Sendable () -> Int64
    /// Applies durable records and runs completions in log order, off the flusher's stack.
    private let applying = DispatchQueue(label: "ganglion.metadata.apply")

    init(directory: String, clock: @escaping @Sendable () -> Int64 = PartitionLog.systemClock, faults: LogFaults? = nil) throws {
        var configuration = LogConfiguration()
        configuration.faults = faults
        configuration.durability = .everyBatch
        configuration.retentionMilliseconds = nil
        configuration.segmentBytes = 64 << 20
        log = try PartitionLog(directory: directory + "/__metadata-0", configuration: configuration, clock: clock)
        self.clock = clock
        let decoder = JSONDecoder()
        for record in try log.records(from: log.logStartOffset) {
            guard let value = record.value else { continue }
            if record.key == Self.registryKey {
                registry.apply(try decoder.decode(RegistryRecord.self, from: Data(value)))
            } else {
                current.apply(try decoder.decode(MetadataRecord.self, from: Data(value)))
            }
        }
        decided = current
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
                var batch = RecordBatchBuilder()
                batch.append(key: nil, value: Array(try JSONEncoder().encode(record)), timestamp: clock())
                let bytes = batch.build()
                let queue = applying, sequence = nextSequence
                try bytes.withUnsafeBytes { raw in
                    try log.append(raw) { [self] result in
                        queue.async { self.finish(result, sequence: sequence, record: record, completion: completion) }
                    }
                }
                nextSequence += 1
                pending.append((sequence, record))
                decided.apply(record)
            }
        } catch {
            applying.async { completion(.failure(error)) }
        }
    }

    /// Applies the records made durable by an append's outcome (on the serial queue).
    private func finish(_ result: Result<AppendResult, any Error>, sequence: Int64, record: MetadataRecord,
                        completion: @Sendable (Result<MetadataRecord, any Error>) -> Void) {
        switch result {
        case .success(let appended):
            lock.withLock {
                // Durability is a prefix of the log: every record appended before this one is durable too.
                while let first = pending.first, first.sequence <= sequence {
                    current.apply(first.record)
                    pending.removeFirst()
                }
            }
            log.advanceHighWatermark(to: appended.lastOffset + 1)
            completion(.success(record))
        case .failure(let error):
            lock.withLock {
                // The log refuses everything after a failed fsync; what was decided is undone.
                pending.removeAll()
                decided = current
            }
            completion(.failure(error))
        }
    }

    /// Validates, appends and applies `record`, resuming once it is durable.
    func commit(_ record: MetadataRecord) async throws {
        _ = try await withCheckedThrowingContinuation { continuation in
            commit(deciding: { _ in record }) { continuation.resume(with: $0) }
        }
    }

    /// Blocking form for start-up paths and tests (never on the socket thread).
    func commitAndWait(_ record: MetadataRecord) throws {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<MetadataRecord, any Error>?
        commit(deciding: { _ in record }) { result in
            outcome = result
            done.signal()
        }
        done.wait()
        _ = try outcome!.get()
    }

    /// The registry's state now.
    var registryState: RegistryState { registryLock.withLock { registry } }

    /// Decides a registry change against the current state, appends it durably and applies it
    /// (called off the socket thread: the registry queue waits for the fsync, under its own lock).
    func updateRegistry<Answer>(_ decide: (RegistryState) throws -> (RegistryRecord?, Answer)) throws -> Answer {
        try registryLock.withLock {
            let (record, answer) = try decide(registry)
            if let record {
                var batch = RecordBatchBuilder()
                batch.append(key: Self.registryKey, value: Array(try JSONEncoder().encode(record)), timestamp: clock())
                let result = try log.append(batch.build())
                log.setHighWatermark(result.lastOffset + 1)
                registry.apply(record)
            }
            return answer
        }
    }

    func close() throws { try log.close() }
}
