import ClusterCore
import EventLog
import Foundation

/// The node's metadata log: every metadata change is validated against the current state,
/// appended durably (fsync before it is applied) to `<data>/__metadata-0`, then applied. On
/// open the log is replayed, so a restart resumes exactly. (With several controller voters this
/// log is what Raft replicates; the state machine does not change.)
final class MetadataStore: @unchecked Sendable {
    // `state` is guarded by `lock`; the log is thread-safe.
    private let lock = NSLock()
    private var current = MetadataState()
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
            current.apply(try decoder.decode(MetadataRecord.self, from: Data(value)))
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

    func close() throws { try log.close() }
}
