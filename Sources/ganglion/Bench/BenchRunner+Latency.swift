import EventLog
import Foundation
import Ganglion

/// The latency row: end to end through the node beside libzmq's floors, measured in turns.
extension BenchRunner {
    /// [p50 µs, p99 µs, floor p50, floor p99, client stage p50, p99, node stage p50, p99, ack
    /// p50, p99, durable floor p50, p99] (the floors 0 unless `withFloor`). This host's timings
    /// drift within seconds, so the floors and our run take turns — up to 5 rounds of the plain C
    /// relay, the durable one and our run, each a slice of `latencySeconds` — and each figure is a
    /// percentile of its samples pooled over the rounds: the ratios compare the same moments.
    func interleavedLatency(topic: String, size: Int, withFloor: Bool) async throws -> [Double] {
        let rounds = max(1, min(5, Int(workload.latencySeconds.rounded(.down))))
        let seconds = workload.latencySeconds / Double(rounds)
        var floor: [Double] = [], durable: [Double] = [], ours = LatencySlice()
        // The node's stage, from its histogram read around our slices (a node this benchmark started).
        let http = nodeHTTP()
        var before: NodeStageHistogram?
        for round in 0..<rounds {
            if withFloor {
                floor += try Self.relayFloor(size: size, rate: workload.rate, seconds: seconds)
                // The relay doing a durable log's least: its log beside the node's data (the same file system).
                durable += try Self.relayFloor(size: size, rate: workload.rate, seconds: seconds, durable: dataDirectory ?? NSTemporaryDirectory())
            }
            if round == 0, let http { before = try? await NodeStageHistogram.read(http: http) }
            ours.add(try await latency(topic: topic, size: size, seconds: seconds))
        }
        var node: NodeStageHistogram?
        if let http, let before, let after = try? await NodeStageHistogram.read(http: http) { node = after.since(before) }
        func percentile(_ values: [Double], _ q: Double) -> Double {
            guard !values.isEmpty else { return 0 }
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
        }
        return [percentile(ours.delivered, 0.5), percentile(ours.delivered, 0.99), percentile(floor, 0.5), percentile(floor, 0.99),
                percentile(ours.sends, 0.5), percentile(ours.sends, 0.99), node?.quantile(0.5) ?? -1, node?.quantile(0.99) ?? -1,
                percentile(ours.acks, 0.5), percentile(ours.acks, 0.99), percentile(durable, 0.5), percentile(durable, 0.99)]
    }

    /// One slice of the latency run (µs): each event from handing it to the client to its
    /// delivery by the live stream, the client's stage of each send, each acknowledgement's round
    /// trip.
    struct LatencySlice {
        var delivered: [Double] = []
        var sends: [Double] = []
        var acks: [Double] = []

        mutating func add(_ other: LatencySlice) {
            delivered += other.delivered
            sends += other.sends
            acks += other.acks
        }
    }

    /// One event per batch at a fixed rate for `seconds`, read from the partition's end as it was
    /// when the slice began; events sent during the warm-up are not counted. The client's stage:
    /// from the producer's wake-up at the send time (the event's timestamp) to the request handed
    /// to libzmq (building the batch, encoding the request, the send); and each acknowledgement's
    /// round trip from the same timestamp.
    private func latency(topic: String, size: Int, seconds: Double) async throws -> LatencySlice {
        let metadata = try await client.metadata(topics: [topic])
        let start = try await client.listOffsets(topic: topic, partitions: [0], timestamp: -1).first?.offset ?? 0
        // The reader has a client of its own (its own socket thread and libzmq context), as the
        // floor gives each party its own: sharing the producer's thread would queue a delivery
        // behind the producer's send, its acknowledgement and its pacing timer.
        let readerClient = try GanglionClient(endpoint: api, credentials: client.credentials)
        let stream = try PartitionStream(client: readerClient, pubEndpoint: metadata.nodes[0].pubEndpoint, topic: topic, partition: 0, from: start)
        defer {
            stream.close()
            readerClient.close()
        }
        let clock = ContinuousClock()
        let origin = clock.now
        let warmup = Int(Double(workload.rate) * (workload.warmup / .seconds(1)))
        let total = warmup + Int(seconds * Double(workload.rate))
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
                    guard delivered.record.offset >= start + Int64(warmup) else { continue }
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
        let sends = try await producer.value
        // The reader has 10 s after the last send to see every event; then its stream is closed:
        // a run that cannot deliver ends with an error instead of waiting for ever.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(10))
            stream.close()
        }
        let samples = try await reader.value
        watchdog.cancel()
        guard samples.count == total - warmup, !sends.isEmpty else {
            throw GanglionError(code: .internal, message: "the latency run's reader got \(samples.count) of \(total - warmup) events within 10 s of the last send")
        }
        return LatencySlice(delivered: samples, sends: sends, acks: acks.sorted())
    }
}
