import ArgumentParser
import ClusterRuntime
import EventLog
import Foundation
import Ganglion

/// `ganglion bench`: produce, consume+commit and end-to-end latency against a node (an
/// in-process node with interval fsync unless `--node` is given), the workload of
/// `scripts/bench-peers.sh`, so the figures compare with Redis Streams and NATS JetStream.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure produce, consume+commit and end-to-end latency (events of 256 B and 1 KiB).")

    @Option(name: .customLong("node"), help: "A running node's request endpoint; default: start one in-process in a temporary directory.")
    var endpoint: String?
    @Option(help: "Events per produce run.") var events = 200_000
    @Option(help: "Events per produce batch.") var batch = 100
    @Option(help: "Produce batches in flight.") var inFlight = 16
    @Option(help: "Seconds of the fixed-rate latency run.") var latencySeconds = 3.0
    @Option(help: "Events per second of the latency run.") var rate = 10_000

    func run() async throws {
        var node: Node?
        var directory: String?
        var api = endpoint ?? ""
        if endpoint == nil {
            directory = NSTemporaryDirectory() + "ganglion-bench-" + UUID().uuidString
            var configuration = NodeConfiguration()
            configuration.dataDirectory = directory!
            configuration.apiEndpoint = "tcp://127.0.0.1:0"
            configuration.pubEndpoint = "tcp://127.0.0.1:0"
            configuration.durability = .interval(.milliseconds(1000))
            node = try Node(configuration: configuration)
            api = node!.endpoints.api
        }
        defer {
            node?.stop()
            if let directory { try? FileManager.default.removeItem(atPath: directory) }
        }
        let client = try GanglionClient(endpoint: api, timeout: .seconds(30))
        defer { client.close() }
        print("== ganglion bench: \(endpoint == nil ? "in-process node, interval fsync (1 s)" : api) ==")
        for size in [256, 1024] {
            let topic = "bench-\(size)-\(UUID().uuidString.prefix(8))"
            try await client.createTopic(topic, partitions: 4)
            let produced = try await produce(client, topic: topic, size: size)
            let consumed = try await consume(api: api, topic: topic, count: events)
            print("  \(size) B: produce \(Int(produced)) events/s, consume+commit (group of 2) \(Int(consumed)) events/s")
        }
        let (p50, p99) = try await latency(client, api: api)
        print("  end-to-end at \(rate) events/s: p50 \(Int(p50)) µs, p99 \(Int(p99)) µs")
    }

    private func payloadBatch(size: Int, count: Int) -> [UInt8] {
        var builder = RecordBatchBuilder()
        for index in 0..<count {
            builder.append(key: Array("k\(index % 64)".utf8), value: [UInt8](repeating: 0x61, count: size), timestamp: 1)
        }
        return builder.build()
    }

    /// Events per second appended with `inFlight` batches outstanding, round-robin over partitions.
    private func produce(_ client: GanglionClient, topic: String, size: Int) async throws -> Double {
        let batchBytes = payloadBatch(size: size, count: batch)
        let batches = events / batch
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<inFlight {
                group.addTask {
                    var index = worker
                    while index < batches {
                        try await client.produce(topic: topic, partition: UInt32(index % 4), batch: batchBytes)
                        index += inFlight
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(batches * batch) / ((ContinuousClock.now - start) / .seconds(1))
    }

    /// Events per second read by a group of two consumers committing every 100 events.
    private func consume(api: String, topic: String, count: Int) async throws -> Double {
        let counter = Counter()
        let start = ContinuousClock.now
        let consumers = try (0..<2).map { _ in GroupConsumer(client: try GanglionClient(endpoint: api), group: "bench-\(topic)", topics: [topic]) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for consumer in consumers {
                group.addTask {
                    // Records come in batches; commit the last of each.
                    for try await batch in consumer.batches {
                        guard let last = batch.last else { continue }
                        try? await consumer.commit(last)
                        if await counter.add(batch.count) >= count { return }
                    }
                }
            }
            _ = try await group.next()
            while await counter.value < count { try await Task.sleep(for: .milliseconds(5)) }
            group.cancelAll()
        }
        let elapsed = (ContinuousClock.now - start) / .seconds(1)
        for consumer in consumers { await consumer.close() }
        return Double(count) / elapsed
    }

    /// p50 and p99 (µs) from append to delivery at a fixed rate, one event per batch.
    private func latency(_ client: GanglionClient, api: String) async throws -> (Double, Double) {
        let topic = "bench-latency-\(UUID().uuidString.prefix(8))"
        try await client.createTopic(topic, partitions: 1)
        let metadata = try await client.metadata(topics: [topic])
        let stream = try PartitionStream(client: client, pubEndpoint: metadata.nodes[0].pubEndpoint, topic: topic, partition: 0, from: 0)
        defer { stream.close() }
        let total = Int(latencySeconds * Double(rate))
        let clock = ContinuousClock()
        let origin = clock.now
        let reader = Task {
            var samples: [Double] = []
            for try await delivered in stream.records() {
                let sent = delivered.record.value!.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
                samples.append(Double((origin.duration(to: clock.now) / .nanoseconds(1))) / 1000 - Double(sent) / 1000)
                if samples.count == total { break }
            }
            return samples
        }
        let interval = Duration.seconds(1) / rate
        var next = clock.now
        for _ in 0..<total {
            next = next.advanced(by: interval)
            if clock.now < next { try await clock.sleep(until: next) }
            let sentAt = Int64(origin.duration(to: clock.now) / .nanoseconds(1))
            var builder = RecordBatchBuilder()
            builder.append(key: nil, value: withUnsafeBytes(of: sentAt) { Array($0) } + [UInt8](repeating: 0, count: 248), timestamp: 1)
            let bytes = builder.build()
            Task { try await client.produce(topic: topic, partition: 0, batch: bytes) }
        }
        let samples = try await reader.value.sorted()
        return (samples[samples.count / 2], samples[min(samples.count - 1, samples.count * 99 / 100)])
    }
}

/// Counts delivered events across consumers.
actor Counter {
    private(set) var value = 0
    func add(_ count: Int = 1) -> Int {
        value += count
        return value
    }
}
