import ClusterCore
import EventLog
import Foundation
import GanglionWire

/// Where a ``GroupService`` keeps its groups' committed offsets (and, on a cluster, their epochs):
/// the log it replays when it starts, and how a batch is made durable there.
protocol GroupOffsetsStorage: Sendable {
    /// The log replayed on start.
    var log: PartitionLog { get }
    /// Whether the groups' epochs are kept in this log (a cluster) rather than the metadata log.
    var keepsEpochs: Bool { get }
    /// Appends `batch`; `completion` gets its first offset once it is durable (replicated to the
    /// in-sync replicas on a cluster), or the error.
    func append(_ batch: [UInt8], completion: @escaping @Sendable (Result<Int64, any Error>) -> Void)
    /// Compacts the log (run by the node's maintenance, off the socket thread).
    func maintain()
    /// Closes what the storage owns.
    func close()
}

/// A cluster of one's offsets: the node's own compacted `__consumer_offsets-0` log, fsynced
/// before a commit is acknowledged.
struct LocalOffsetsStorage: GroupOffsetsStorage {
    let log: PartitionLog
    var keepsEpochs: Bool { false }

    /// The log in `dataDirectory`, made or reopened.
    init(dataDirectory: String, clock: @escaping @Sendable () -> Int64, faults: LogFaults?, segmentBytes: Int) throws {
        var configuration = LogConfiguration()
        configuration.faults = faults
        configuration.durability = .everyBatch
        configuration.compacted = true
        configuration.retentionMilliseconds = nil
        // Small segments rolled at least hourly: compaction only cleans closed segments, and the
        // log a restart replays is then bounded by the partitions committed, not by history.
        configuration.segmentBytes = segmentBytes
        configuration.segmentMilliseconds = 3_600_000
        log = try PartitionLog(directory: dataDirectory + "/__consumer_offsets-0", configuration: configuration, clock: clock)
        log.setHighWatermark(log.logEndOffset)
    }

    func maintain() {
        _ = try? log.compact()
        // Old segments emptied by compaction go: the log is only replayed from its start.
        _ = try? log.deleteLeadingEmptySegments()
    }

    func close() { try? log.close() }

    func append(_ batch: [UInt8], completion: @escaping @Sendable (Result<Int64, any Error>) -> Void) {
        let log = self.log
        do {
            try batch.withUnsafeBytes { bytes in
                try log.append(bytes) { result in
                    completion(result.map { appended in
                        log.advanceHighWatermark(to: appended.lastOffset + 1)
                        return appended.firstOffset
                    })
                }
            }
        } catch {
            completion(.failure(error))
        }
    }
}

/// A cluster's offsets of the groups one `__consumer_offsets` partition holds, on the node that
/// leads it: appended through the replicated produce path (acknowledged once the in-sync replicas
/// have the batch), so the partition's next leader finds every acknowledged commit.
struct ReplicatedOffsetsStorage: GroupOffsetsStorage {
    let log: PartitionLog
    /// Stores a batch in the partition with acks=all; returns its first offset.
    let store: @Sendable ([UInt8]) async throws -> Int64
    var keepsEpochs: Bool { true }

    /// The partition's log belongs to the node's topic logs: their maintenance compacts it and
    /// the node closes it.
    func maintain() {}
    func close() {}

    func append(_ batch: [UInt8], completion: @escaping @Sendable (Result<Int64, any Error>) -> Void) {
        let store = self.store
        Task {
            do { completion(.success(try await store(batch))) } catch { completion(.failure(error)) }
        }
    }
}
