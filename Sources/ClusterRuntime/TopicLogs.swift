import ClusterCore
import EventLog
import Foundation

/// The partition logs of every topic on this node, opened on first use, in
/// `<data>/topics/<topic>-<partition>`.
final class TopicLogs: @unchecked Sendable {
    // `open`, `openIDs` and `closed` are guarded by `lock`; each PartitionLog is thread-safe itself.
    private let lock = NSLock()
    private var open: [TopicPartition: PartitionLog] = [:]
    /// Set by ``closeAll()``: from then on nothing here writes to the data directory.
    private var closed = false
    /// Removals running in the background (``closeAll()`` waits for them).
    private let removals = DispatchGroup()
    /// The topic id each open log belongs to (nil: a topic without one).
    private var openIDs: [TopicPartition: String] = [:]
    private let directory: String
    /// Where deleted partitions wait for their removal in the background.
    private let trash: String
    private let durability: DurabilityPolicy

    /// Storage faults injected into every partition log (tests only).
    private let faults: LogFaults?

    /// Whether a topic is replicated (its high watermark then comes from its in-sync replicas).
    private let replicated: @Sendable (String) -> Bool

    init(dataDirectory: String, durability: DurabilityPolicy, faults: LogFaults? = nil,
         replicated: @escaping @Sendable (String) -> Bool = { _ in false }) throws {
        self.faults = faults
        self.replicated = replicated
        directory = dataDirectory + "/topics"
        trash = dataDirectory + "/topics-deleted"
        self.durability = durability
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: trash, withIntermediateDirectories: true)
        // Partitions whose removal a crash interrupted.
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: trash)) ?? []
        removeInBackground(leftovers.map { "\(trash)/\($0)" })
    }

    /// The log of a partition of a topic configured as `configuration`.
    func log(_ partition: TopicPartition, configuration: TopicConfiguration) throws -> PartitionLog {
        try lock.withLock {
            guard !closed else { throw LogError(.closed, "the node has stopped: partition \(partition.topic)-\(partition.partition) is not opened") }
            if let log = open[partition], openIDs[partition] == configuration.topicID { return log }
            if let stale = open.removeValue(forKey: partition) { stale.discard() }
            if let id = configuration.topicID { try claim(partition, for: id) }
            var settings = LogConfiguration()
            settings.durability = durability
            settings.faults = faults
            settings.compacted = configuration.compacted
            settings.retentionMilliseconds = configuration.retentionMilliseconds
            settings.retentionBytes = configuration.retentionBytes.map { Int($0) }
            let log = try PartitionLog(directory: path(of: partition), configuration: settings)
            // This node is the partition's only replica: whatever recovery kept is committed, also
            // after an unclean stop that wrote no checkpoint of the high watermark. (A replicated
            // partition's high watermark comes from its leader and in-sync replicas.)
            if !replicated(partition.topic) { log.advanceHighWatermark(to: log.logEndOffset) }
            open[partition] = log
            openIDs[partition] = configuration.topicID
            return log
        }
    }

    /// Makes the partition's directory belong to topic `id`: one left by an earlier topic of the
    /// same name (deleted while this node was away, or not yet removed) is moved to the trash.
    private func claim(_ partition: TopicPartition, for id: String) throws {
        let directory = path(of: partition), marker = directory + "/topic-id"
        if FileManager.default.fileExists(atPath: directory) {
            let recorded = (try? String(contentsOfFile: marker, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            if recorded == id { return }
            let aside = "\(trash)/\(UUID().uuidString)"
            if rename(directory, aside) == 0 { removeInBackground([aside]) } else { try FileManager.default.removeItem(atPath: directory) }
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data((id + "\n").utf8).write(to: URL(fileURLWithPath: marker), options: .atomic)
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

    /// Deletes every partition of `topic`: its logs are discarded (not flushed) and their
    /// directories moved aside at once, so a topic of the same name can be made right away, and
    /// removed in the background (as Kafka does), so deleting a large topic never stalls the node.
    /// (Only a compaction pass running on one of the logs is waited for: it holds the log.)
    func delete(topic: String, partitions: Int32) {
        delete((0..<partitions).map { TopicPartition(topic, $0) })
    }

    /// Deletes these partitions' logs, as ``delete(topic:partitions:)`` does (a replica that
    /// moved off this node).
    func delete(_ partitions: [TopicPartition]) {
        let moved: [String] = lock.withLock {
            var moved: [String] = []
            // Stopped: the directories stay as they are (a restart deletes them again).
            guard !closed else { return [] }
            for partition in partitions {
                // Discarded before its directory moves: the old log object never writes again.
                open.removeValue(forKey: partition)?.discard()
                openIDs[partition] = nil
                let from = path(of: partition), to = "\(trash)/\(UUID().uuidString)"
                guard FileManager.default.fileExists(atPath: from) else { continue }
                if rename(from, to) == 0 {
                    moved.append(to)
                } else {
                    try? FileManager.default.removeItem(atPath: from)  // not movable: removed here instead
                }
            }
            return moved
        }
        removeInBackground(moved)
    }

    /// The partitions with a directory here, open or not (what a restarted node holds on disk).
    func partitionsOnDisk() -> [TopicPartition] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in
            guard let dash = name.lastIndex(of: "-"), let partition = Int32(name[name.index(after: dash)...]), partition >= 0 else { return nil }
            return TopicPartition(String(name[..<dash]), partition)
        }
    }

    private func removeInBackground(_ paths: [String]) {
        guard !paths.isEmpty else { return }
        DispatchQueue.global(qos: .utility).async(group: removals) {
            for path in paths { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    /// Flushes and closes every open log, and waits for the removals in the background: once it
    /// returns, nothing here writes to the data directory again (no log is opened, no partition
    /// deleted), so whoever embeds the node may remove or reuse the directory at once.
    func closeAll() {
        lock.withLock {
            closed = true
            for log in open.values { try? log.close() }
            open = [:]
            openIDs = [:]
        }
        removals.wait()
    }

    private func path(of partition: TopicPartition) -> String {
        "\(directory)/\(partition.topic)-\(partition.partition)"
    }
}
