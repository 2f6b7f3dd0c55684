import ClusterCore
import EventLog
import Foundation
import SchemaRegistry

/// The node's metadata log: every metadata change is validated against the current state,
/// appended durably (fsync before it is applied) to `<data>/__metadata-0`, then applied. On
/// open the log is replayed, so a restart resumes exactly. (With several controller voters this
/// log is what Raft replicates; the state machine does not change.) The log holds the cluster's
/// records (no key) and the schema registry's (key `registry`).
final class MetadataStore: RegistryStore, @unchecked Sendable {
    // `current` and `registry` are guarded by `lock`; the log is thread-safe.
    private let lock = NSLock()
    private var current = MetadataState()
    private var registry = RegistryState()
    private static let registryKey = Array("registry".utf8)
    private let log: PartitionLog
    private let clock: @Sendable () -> Int64

    init(directory: String, clock: @escaping @Sendable () -> Int64 = PartitionLog.systemClock) throws {
        var configuration = LogConfiguration()
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
        log.setHighWatermark(log.logEndOffset)
    }

    /// The metadata now.
    var state: MetadataState { lock.withLock { current } }

    /// Validates, appends durably and applies `record`; the error says why it was refused.
    func commit(_ record: MetadataRecord) throws {
        try lock.withLock {
            try current.validate(record)
            var batch = RecordBatchBuilder()
            batch.append(key: nil, value: Array(try JSONEncoder().encode(record)), timestamp: clock())
            let result = try log.append(batch.build())
            log.setHighWatermark(result.lastOffset + 1)
            current.apply(record)
        }
    }

    /// The registry's state now.
    var registryState: RegistryState { lock.withLock { registry } }

    /// Decides a registry change against the current state, appends it durably and applies it.
    func updateRegistry<Answer>(_ decide: (RegistryState) throws -> (RegistryRecord?, Answer)) throws -> Answer {
        try lock.withLock {
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
