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
            case .latency:
                // The physical floor first: libzmq alone carrying the same events the same way.
                let floorSeconds = max(1, workload.latencySeconds / 5)
                let floor = withFloor ? try Self.relayFloor(size: size, rate: workload.rate, seconds: floorSeconds) : (p50: 0.0, p99: 0.0)
                // And the relay doing a durable log's least: its log beside the node's data (the same file system).
                let durable = withFloor ? try Self.relayFloor(size: size, rate: workload.rate, seconds: floorSeconds,
                                                              durable: dataDirectory ?? NSTemporaryDirectory()) : (p50: 0.0, p99: 0.0)
                // The node's stage, from its histogram read around the run (a node this benchmark started).
                let http = nodeHTTP()
                var before: NodeStageHistogram?
                if let http { before = try? await NodeStageHistogram.read(http: http) }
                let run = try await latency(topic: topic, size: size)
                var node: NodeStageHistogram?
                if let http, let before, let after = try? await NodeStageHistogram.read(http: http) { node = after.since(before) }
                figures = .success([run.p50, run.p99, floor.p50, floor.p99, run.sendP50, run.sendP99,
                                    node?.quantile(0.5) ?? -1, node?.quantile(0.99) ?? -1, run.ackP50, run.ackP99,
                                    durable.p50, durable.p99])
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

    /// p50 and p99 (µs) of libzmq's own DEALER→ROUTER→PUB→SUB relay in C (one context per party)
    /// at `rate` for `seconds`: the floor under the end-to-end row, which Ganglion cannot beat.
    /// `durable`: the same relay writing each event to a file in `directory` before publishing
    /// it, its producer woken by each acknowledgement — the least a durable, acknowledged log adds.
    static func relayFloor(size: Int, rate: Int, seconds: Double, durable directory: String? = nil) throws -> (p50: Double, p99: Double) {
        let count = max(1_000, Int(Double(rate) * seconds))
        var latencies = [UInt64](repeating: 0, count: count)
        let result: Int32
        if let directory {
            let path = directory + "/c-durable-relay-\(UUID().uuidString.prefix(8)).log"
            defer { try? FileManager.default.removeItem(atPath: path) }
            result = ganglion_c_durable_relay_latency(size, UInt64(rate), UInt64(count), &latencies, path)
        } else {
            result = ganglion_c_relay_latency(size, UInt64(rate), UInt64(count), &latencies)
        }
        guard result == 0 else {
            throw GanglionError(code: .internal, message: "the C \(directory == nil ? "relay" : "durable relay") floor run failed: errno \(-result)")
        }
        let sorted = latencies.sorted()
        return (Double(sorted[count / 2]) / 1000, Double(sorted[min(count - 1, count * 99 / 100)]) / 1000)
    }

    /// The HTTP base URL of the node this benchmark started (nil for `--node`).
    private func nodeHTTP() -> String? {
        guard let dataDirectory, let data = FileManager.default.contents(atPath: dataDirectory + "/endpoints.json"),
              let endpoints = try? JSONSerialization.jsonObject(with: data) as? [String: String],
              let http = endpoints["http"], !http.isEmpty else { return nil }
        return http
    }

    /// p50 and p99 (µs) from handing an event to the client to its delivery by the live stream,
    /// one event per batch at a fixed rate; events sent during the warm-up are not counted. The
    /// client's stage beside it: from the producer's wake-up at the send time (the event's
    /// timestamp) to the request handed to libzmq (building the batch, encoding the request, the
    /// send); and each acknowledgement's round trip from the same timestamp.
    private func latency(topic: String, size: Int) async throws -> (p50: Double, p99: Double, sendP50: Double, sendP99: Double,
                                                                 ackP50: Double, ackP99: Double) {
        let metadata = try await client.metadata(topics: [topic])
        // The reader has a client of its own (its own socket thread and libzmq context), as the
        // floor gives each party its own: sharing the producer's thread would queue a delivery
        // behind the producer's send, its acknowledgement and its pacing timer.
        let readerClient = try GanglionClient(endpoint: api, credentials: client.credentials)
        let stream = try PartitionStream(client: readerClient, pubEndpoint: metadata.nodes[0].pubEndpoint, topic: topic, partition: 0, from: 0)
        defer {
            stream.close()
            readerClient.close()
        }
        let clock = ContinuousClock()
        let origin = clock.now
        let warmup = Int(Double(workload.rate) * (workload.warmup / .seconds(1)))
        let total = warmup + Int(workload.latencySeconds * Double(workload.rate))
        // Both ends run on their socket threads (`socketExecutor`): the lowest-latency use of the client.
        let reader = Task(executorPreference: stream.socketExecutor) {
            var samples: [Double] = []
            samples.reserveCapacity(total)
            var records = stream.records().makeAsyncIterator()
            var seen = 0
            while seen < total, let batch = try await records.nextBatch() {
                let now = Double(origin.duration(to: clock.now) / .nanoseconds(1))
                for delivered in batch {
                    seen += 1
                    guard delivered.record.offset >= Int64(warmup) else { continue }
                    let sent = delivered.record.value!.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
                    samples.append((now - Double(sent)) / 1000)
                }
            }
            return samples
        }
        let padding = [UInt8](repeating: 0x61, count: size - 8)
        let acks = LockedSamples()
        let interval = Duration.seconds(1) / workload.rate
        let client = self.client
        let producer = Task(executorPreference: client.socketExecutor) {
            var next = clock.now
            var sends: [Double] = []
            sends.reserveCapacity(total)
            for index in 0..<total {
                next = next.advanced(by: interval)
                if clock.now < next { await client.sleep(until: next) }
                let sentAt = Int64(origin.duration(to: clock.now) / .nanoseconds(1))
                var builder = RecordBatchBuilder()
                builder.append(key: nil, value: withUnsafeBytes(of: sentAt) { Array($0) } + padding, timestamp: 1)
                // On the client's socket thread this goes out at once; the reply comes back there too.
                let counted = index >= warmup
                try client.produce(topic: topic, partition: 0, batch: builder.build()) { _ in
                    if counted { acks.add(Double(Int64(origin.duration(to: clock.now) / .nanoseconds(1)) - sentAt) / 1000) }
                }
                if counted { sends.append(Double(Int64(origin.duration(to: clock.now) / .nanoseconds(1)) - sentAt) / 1000) }
            }
            return sends
        }
        let sends = try await producer.value.sorted()
        // The reader has 10 s after the last send to see every event; then its stream is closed:
        // a run that cannot deliver ends with an error instead of waiting for ever.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(10))
            stream.close()
        }
        let samples = try await reader.value.sorted()
        watchdog.cancel()
        guard samples.count == total - warmup, !sends.isEmpty else {
            throw GanglionError(code: .internal, message: "the latency run's reader got \(samples.count) of \(total - warmup) events within 10 s of the last send")
        }
        func percentile(_ sorted: [Double], _ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        let acknowledged = acks.sorted()
        return (percentile(samples, 0.5), percentile(samples, 0.99), percentile(sends, 0.5), percentile(sends, 0.99),
                percentile(acknowledged, 0.5), percentile(acknowledged, 0.99))
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
