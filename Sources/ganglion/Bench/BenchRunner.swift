import CZeroMQBaseline
import EventLog
import Foundation
import Ganglion

/// The parameters every run shares (the peer benchmark's `Workload`).
struct BenchWorkload: Sendable {
    var runs: Int
    var produceSeconds: Double
    var producers: Int
    var batch: Int
    var window: Int
    var consumeEvents: Int
    var latencySeconds: Double
    var rate: Int
    var warmup: Duration = .milliseconds(500)
}

/// The figures of the peer benchmark's table.
enum BenchMetric: String, Sendable {
    case produceInterval = "produce_interval"
    case produceAlways = "produce_always"
    case consume
    case latency
    /// Produce acknowledgement p50/p99, quiet and with 64 partitions committing every 100 ms.
    case produceUnderCommits = "produce_under_commits"
}

/// Runs one measurement at a time against one node.
struct BenchRunner: Sendable {
    let client: GanglionClient
    let api: String
    let workload: BenchWorkload
    /// The node's data directory when this benchmark started the node (nil for `--node`).
    var dataDirectory: String? = nil

    /// [events/s] for throughput, [p50 µs, p99 µs, floor p50, floor p99, client stage p50, p99,
    /// node stage p50, p99, ack p50, p99, durable floor p50, p99] for latency (the floors are
    /// libzmq's C relay, plain and durable, measured first unless `withFloor` is false: then 0).
    func measure(_ metric: BenchMetric, size: Int, withFloor: Bool = true) async throws -> [Double] {
        let topic = "bench-\(metric.rawValue)-\(size)-\(UUID().uuidString.prefix(8))"
        try await client.createTopic(topic, partitions: metric == .latency || metric == .produceUnderCommits ? 1 : 4)
        let figures: Result<[Double], any Error>
        do {
            switch metric {
            case .produceInterval, .produceAlways: figures = .success([try await produce(topic: topic, size: size)])
            case .consume: figures = .success([try await consume(topic: topic, size: size)])
            case .latency: figures = .success(try await interleavedLatency(topic: topic, size: size, withFloor: withFloor))
            case .produceUnderCommits: figures = .success(try await produceAcksUnderCommits(topic: topic, size: size))
            }
        } catch {
            figures = .failure(error)
        }
        // Deleted, and its files gone from the disk, before the next run starts, so no run measures
        // another's clean-up (as the peer benchmark awaits Redis's AOF rewrite between runs).
        try? await client.deleteTopic(topic)
        if let dataDirectory {
            let trash = dataDirectory + "/topics-deleted"
            let deadline = ContinuousClock.now.advanced(by: .seconds(60))
            while ContinuousClock.now < deadline, !((try? FileManager.default.contentsOfDirectory(atPath: trash)) ?? []).isEmpty {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        return try figures.get()
    }

    private func batchBytes(size: Int, count: Int) -> [UInt8] {
        var builder = RecordBatchBuilder()
        for index in 0..<count {
            builder.append(key: Array("k\(index % 64)".utf8), value: (0..<size).map { _ in UInt8.random(in: 0...255) }, timestamp: 1)
        }
        return builder.build()
    }

    /// Acknowledged events per second over the measured window: `producers` concurrent
    /// producers, each keeping `window` events in flight as batches of `batch`, round-robin over
    /// the partitions; only acknowledgements inside the window count.
    private func produce(topic: String, size: Int) async throws -> Double {
        let bytes = batchBytes(size: size, count: workload.batch)
        let inFlight = max(1, workload.window / workload.batch)
        let start = ContinuousClock.now.advanced(by: workload.warmup)
        let end = start.advanced(by: .seconds(workload.produceSeconds))
        let counted = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<(workload.producers * inFlight) {
                group.addTask {
                    var acknowledged = 0
                    var partition = UInt32(worker % 4)
                    while ContinuousClock.now < end {
                        try await client.produce(topic: topic, partition: partition, batch: bytes)
                        let now = ContinuousClock.now
                        if now >= start && now < end { acknowledged += workload.batch }
                        partition = (partition + 1) % 4
                    }
                    return acknowledged
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(counted) / workload.produceSeconds
    }

    /// Events per second read and committed by a group of two consumers, from the start until
    /// every event's commit is acknowledged; the events are preloaded first (untimed).
    private func consume(topic: String, size: Int) async throws -> Double {
        let bytes = batchBytes(size: size, count: 500)
        var loaded = 0
        var partition: UInt32 = 0
        while loaded < workload.consumeEvents {
            try await client.produce(topic: topic, partition: partition, batch: bytes)
            loaded += 500
            partition = (partition + 1) % 4
        }
        let counter = Counter()
        let target = loaded
        let start = ContinuousClock.now
        let consumers = try (0..<2).map { _ in GroupConsumer(client: try GanglionClient(endpoint: api), group: "bench-\(topic)", topics: [topic]) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for consumer in consumers {
                group.addTask {
                    // Records come in batches; the commit of a batch's last record is awaited.
                    for try await batch in consumer.batches {
                        guard let last = batch.last else { continue }
                        try await consumer.commit(last)
                        if await counter.add(batch.count) >= target { return }
                    }
                }
            }
            _ = try await group.next()
            while await counter.value < target { try await Task.sleep(for: .milliseconds(1)) }
            group.cancelAll()
        }
        let elapsed = (ContinuousClock.now - start) / .seconds(1)
        for consumer in consumers { await consumer.close() }
        return Double(loaded) / elapsed
    }

    /// The latencies (µs, sorted) of libzmq's own DEALER→ROUTER→PUB→SUB relay in C (one context
    /// per party) at `rate` for `seconds`: the floor under the end-to-end row, which Ganglion cannot beat.
    /// `durable`: the same relay writing each event to a file in `directory` before publishing
    /// it, its producer woken by each acknowledgement — the least a durable, acknowledged log adds.
    static func relayFloor(size: Int, rate: Int, seconds: Double, durable directory: String? = nil) throws -> [Double] {
        let count = max(1_000, Int(Double(rate) * seconds))
        var latencies = [UInt64](repeating: 0, count: count)
        let result: Int32
        if let directory {
            let path = directory + "/c-durable-relay-\(UUID().uuidString.prefix(8)).log"
            BenchScratch.keep(path: path)
            defer {
                try? FileManager.default.removeItem(atPath: path)
                BenchScratch.forget(path: path)
            }
            result = ganglion_c_durable_relay_latency(size, UInt64(rate), UInt64(count), &latencies, path)
        } else {
            result = ganglion_c_relay_latency(size, UInt64(rate), UInt64(count), &latencies)
        }
        guard result == 0 else {
            throw GanglionError(code: .internal, message: "the C \(directory == nil ? "relay" : "durable relay") floor run failed: errno \(-result)")
        }
        return latencies.sorted().map { Double($0) / 1000 }
    }

    /// The HTTP base URL of the node this benchmark started (nil for `--node`).
    func nodeHTTP() -> String? {
        guard let dataDirectory, let data = FileManager.default.contents(atPath: dataDirectory + "/endpoints.json"),
              let endpoints = try? JSONSerialization.jsonObject(with: data) as? [String: String],
              let http = endpoints["http"], !http.isEmpty else { return nil }
        return http
    }
}

/// Samples added from any thread (the latency run's acknowledgements, on the client's socket thread).
final class LockedSamples: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Double] = []
    func add(_ value: Double) { lock.withLock { values.append(value) } }
    func sorted() -> [Double] { lock.withLock { values.sorted() } }
}

/// Counts delivered events across consumers.
actor Counter {
    private(set) var value = 0
    func add(_ count: Int = 1) -> Int {
        value += count
        return value
    }
}
