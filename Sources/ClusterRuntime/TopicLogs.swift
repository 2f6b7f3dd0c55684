import ClusterCore
import EventLog
import Foundation

/// The partition logs of every topic on this node, opened on first use, in
/// `<data>/topics/<topic>-<partition>`.
final class TopicLogs: @unchecked Sendable {
    // `open` is guarded by `lock`; each PartitionLog is thread-safe itself.
    private let lock = NSLock()
    private var open: [TopicPartition: PartitionLog] = [:]
    private let directory: String
    private let durability: DurabilityPolicy

    init(dataDirectory: String, durability: DurabilityPolicy) throws {
        directory = dataDirectory + "/topics"
        self.durability = durability
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// The log of a partition of a topic configured as `configuration`.
    func log(_ partition: TopicPartition, configuration: TopicConfiguration) throws -> PartitionLog {
        try lock.withLock {
            if let log = open[partition] { return log }
            var settings = LogConfiguration()
            settings.durability = durability
            settings.compacted = configuration.compacted
            settings.retentionMilliseconds = configuration.retentionMilliseconds
            settings.retentionBytes = configuration.retentionBytes.map { Int($0) }
            let log = try PartitionLog(directory: path(of: partition), configuration: settings)
            open[partition] = log
            return log
        }
    }

    /// Applies retention (and compaction, for compacted topics) to every open log; returns the
    /// bytes freed. Called periodically by the node.
    @discardableResult
    func maintain() -> Int {
        let logs = lock.withLock { Array(open.values) }
        var freed = 0
        for log in logs {
            // Everything appended on a single node is committed once acknowledged.
            if let result = try? log.applyRetention() { freed += result.deletedBytes }
            if log.configuration.compacted, let result = try? log.compact() { freed += result.bytesBefore - result.bytesAfter }
        }
        return freed
    }

    /// Closes and deletes every partition of `topic`.
    func delete(topic: String, partitions: Int32) {
        lock.withLock {
            for index in 0..<partitions {
                let partition = TopicPartition(topic, index)
                try? open.removeValue(forKey: partition)?.close()
                try? FileManager.default.removeItem(atPath: path(of: partition))
            }
        }
    }

    /// Flushes and closes every open log.
    func closeAll() {
        lock.withLock {
            for log in open.values { try? log.close() }
            open = [:]
        }
    }

    private func path(of partition: TopicPartition) -> String {
        "\(directory)/\(partition.topic)-\(partition.partition)"
    }
}
