import EventLog
import Foundation
import Ganglion
import GanglionWire

/// Produce acknowledgement latency with and without a group committing offsets: nothing a commit
/// does (its fsync of the offsets log) may hold up the node's socket thread.
extension BenchRunner {
    /// Partitions committing in the loaded half of the measurement, and how often each commits.
    static let committingPartitions = 64
    static let commitEvery = Duration.milliseconds(100)

    /// [p50, p99] µs of produce acknowledgements at the latency rate, quiet, then [p50, p99] while
    /// 64 partitions of another topic commit offsets every 100 ms: four figures, one run.
    func produceAcksUnderCommits(topic: String, size: Int) async throws -> [Double] {
        let quiet = try await produceAcks(topic: topic, size: size)
        let committed = "\(topic)-commits"
        try await client.createTopic(committed, partitions: UInt32(Self.committingPartitions))
        defer { Task { [client] in try? await client.deleteTopic(committed) } }
        var one = RecordBatchBuilder()
        one.append(key: nil, value: [1], timestamp: 1)
        for partition in 0..<Self.committingPartitions {
            try await client.produce(topic: committed, partition: UInt32(partition), batch: one.build())
        }
        var join = Ganglion_V1_GroupHeartbeatRequest()
        join.group = committed
        join.memberID = "bench-\(UUID().uuidString)"
        join.subscribedTopics = [committed]
        let member = try await client.call(.groupHeartbeat, join, reply: Ganglion_V1_GroupHeartbeatResponse.self).0
        // 64 partitions as 64 consumers would hold them: four clients of their own (not the
        // producer's), each partition committing every 100 ms at its own phase.
        let committers = try (0..<4).map { _ in try GanglionClient(endpoint: api) }
        let committer = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for partition in 0..<Self.committingPartitions {
                    let client = committers[partition % committers.count]
                    group.addTask {
                        try await Task.sleep(for: Self.commitEvery * partition / Self.committingPartitions)
                        var offset: Int64 = 0
                        while !Task.isCancelled {
                            offset = 1 - offset  // 0 and 1: both within the partition's high watermark
                            var request = Ganglion_V1_OffsetCommitRequest()
                            request.group = committed
                            request.memberID = member.memberID
                            request.memberEpoch = member.memberEpoch
                            var entry = Ganglion_V1_PartitionOffset()
                            entry.topic = committed
                            entry.partition = UInt32(partition)
                            entry.offset = offset
                            request.offsets = [entry]
                            _ = try await client.call(.offsetCommit, request)
                            try await Task.sleep(for: Self.commitEvery)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        defer {
            committer.cancel()
            for client in committers { client.close() }
        }
        try await Task.sleep(for: .milliseconds(300))
        let loaded = try await produceAcks(topic: topic, size: size)
        return quiet + loaded
    }

    /// [p50, p99] µs from sending a batch of one event to its acknowledgement, one batch at a time
    /// at the latency rate, from the client's socket thread; the warm-up is not counted.
    private func produceAcks(topic: String, size: Int) async throws -> [Double] {
        let clock = ContinuousClock()
        let origin = clock.now
        let warmup = Int(Double(workload.rate) * (workload.warmup / .seconds(1)))
        let total = warmup + Int(workload.latencySeconds * Double(workload.rate))
        let padding = [UInt8](repeating: 0x61, count: max(0, size - 8))
        let interval = Duration.seconds(1) / workload.rate
        let samples = AckSamples(expected: total - warmup)
        let client = self.client
        let producer = Task(executorPreference: client.socketExecutor) {
            var next = clock.now
            for index in 0..<total {
                next = next.advanced(by: interval)
                if clock.now < next { await client.sleep(until: next) }
                let sentAt = origin.duration(to: clock.now)
                var builder = RecordBatchBuilder()
                builder.append(key: nil, value: padding, timestamp: 1)
                try client.produce(topic: topic, partition: 0, batch: builder.build()) { _ in
                    guard index >= warmup else { return }
                    samples.add(Double((origin.duration(to: clock.now) - sentAt) / .nanoseconds(1)) / 1000)
                }
            }
        }
        try await producer.value
        let sorted = await samples.all().sorted()
        guard !sorted.isEmpty else { throw GanglionError(code: .internal, message: "the produce latency run got no acknowledgements") }
        return [sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)]]
    }
}

/// Acknowledgement latencies, added on the client's socket thread, read once all arrived.
final class AckSamples: @unchecked Sendable {
    // `values` is guarded by `lock`.
    private let lock = NSLock()
    private var values: [Double] = []
    private let expected: Int

    init(expected: Int) {
        self.expected = expected
        values.reserveCapacity(expected)
    }

    func add(_ value: Double) { lock.withLock { values.append(value) } }

    /// Every sample, once `expected` arrived (or after 30 s, what there is).
    func all() async -> [Double] {
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while lock.withLock({ values.count }) < expected, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return lock.withLock { values }
    }
}
