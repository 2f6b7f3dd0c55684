import ClusterCore
import EventLog
import Foundation
import Ganglion
import GanglionWire

/// `ganglion bench --handoff`: shards holding 10 000 keys of state each move between two agent
/// hosts (on two of three node processes) while every partition is fed an event every 20 ms. Each
/// round a second host joins (half the shards move to it), then leaves gracefully (they move
/// back). For every moved shard it measures the handoff: the gap between the last event its old
/// owner handled and the first its new owner handled (revocation falls inside that gap, so it
/// bounds revocation → first event from above by at most one feed interval). For the shards that
/// did not move it measures the largest gap between handled events during the move, beside the
/// largest gap in an equally long quiet stretch just before it.
struct HandoffBenchmark {
    let rounds: Int
    let keys: Int
    let partitions: UInt32 = 4
    let feedInterval = Duration.milliseconds(20)

    /// The figures of a run.
    struct Figures {
        /// Handoff times (seconds), one per moved shard.
        var handoffs: [Double] = []
        /// The handoffs of shards moved by a join.
        var joins: [Double] = []
        /// The handoffs of shards moved by a graceful leave.
        var leaves: [Double] = []
        /// Per move, the unmoved shards' largest gap during it and in the quiet stretch before (seconds).
        var unmoved: [(during: Double, quiet: Double)] = []
    }

    /// Every handled event's time and host, per partition.
    final class Handled: HandledNotes, @unchecked Sendable {
        // `events` is guarded by `lock`.
        private let lock = NSLock()
        private var events: [UInt32: [(at: ContinuousClock.Instant, host: Int)]] = [:]

        func note(_ partition: UInt32, host: Int) { lock.withLock { events[partition, default: []].append((.now, host)) } }
        func count(_ partition: UInt32) -> Int { lock.withLock { events[partition]?.count ?? 0 } }
        func all(_ partition: UInt32) -> [(at: ContinuousClock.Instant, host: Int)] { lock.withLock { events[partition] ?? [] } }
    }

    func run() async throws -> Figures {
        let cluster = try BenchCluster(prefix: "h", fsync: "interval", extra: ["--node-session-timeout-ms", "1500"])
        defer { cluster.stop() }
        let client = try GanglionClient(endpoint: cluster.nodes[0].api, timeout: .seconds(20))
        defer { client.close() }
        try await BenchCluster.wait(client) { $0.topics.contains { $0.name == GroupPlacement.offsetsTopic } }
        let run = UUID().uuidString.prefix(6).lowercased()
        let topic = "bench-handoff-\(run)", name = "bench-handoff-agent-\(run)"
        _ = try await client.createTopic(topic, partitions: partitions)
        let handled = Handled()
        func host(_ index: Int) -> Task<Void, any Error> {
            let endpoint = cluster.nodes[index].api
            return Task {
                let agent = BenchRecorderAgent(name: name, subscription: try AgentSubscription(topic: topic), host: index, handled: handled)
                try await AgentHost(client: try GanglionClient(endpoint: endpoint, timeout: .seconds(20))).run(agent)
            }
        }
        let first = host(0)
        defer { first.cancel() }
        // Every shard gets `keys` keys of state, handled by the first host alone.
        for partition in 0..<partitions {
            for start in stride(from: 0, to: keys, by: 500) {
                var batch = RecordBatchBuilder()
                for index in start..<min(keys, start + 500) {
                    let event = try Self.event(id: "load-\(partition)-\(index)", key: "k\(partition)-\(index)")
                    batch.append(key: Array(event.key), value: try event.serializedBytes(), timestamp: 1)
                }
                _ = try await client.produce(topic: topic, partition: partition, batch: batch.build(), timeout: .seconds(10))
            }
        }
        let loaded = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < loaded, !(0..<partitions).allSatisfy({ handled.count($0) >= keys }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        guard (0..<partitions).allSatisfy({ handled.count($0) >= keys }) else { throw GanglionError(code: .timeout, message: "the \(keys) keys a shard were not all handled in 120 s") }
        let feeder = Task {
            var sequence = 0
            while !Task.isCancelled {
                sequence += 1
                for partition in 0..<partitions {
                    let event = try Self.event(id: "tick-\(partition)-\(sequence)", key: "k\(partition)-\(sequence % keys)")
                    var batch = RecordBatchBuilder()
                    batch.append(key: Array(event.key), value: try event.serializedBytes(), timestamp: 1)
                    _ = try? await client.produce(topic: topic, partition: partition, batch: batch.build(), timeout: .seconds(5))
                }
                try await Task.sleep(for: feedInterval)
            }
        }
        defer { feeder.cancel() }
        try await Task.sleep(for: .seconds(2))
        var figures = Figures()
        for _ in 0..<rounds {
            // Join: half the shards move to host 1.
            let joined = ContinuousClock.now
            let second = host(1)
            let settled = try await settle(handled, since: joined) { owners in Set(owners.values) == [0, 1] }
            let before = figures.handoffs.count
            measure(handled, from: joined, to: settled, into: &figures)
            figures.joins += figures.handoffs[before...]
            try await Task.sleep(for: .seconds(1))
            // Graceful leave: they move back.
            let leaving = ContinuousClock.now
            second.cancel()
            _ = await second.result
            let back = try await settle(handled, since: leaving) { owners in Set(owners.values) == [0] }
            let moved = figures.handoffs.count
            measure(handled, from: leaving, to: back, into: &figures)
            figures.leaves += figures.handoffs[moved...]
            try await Task.sleep(for: .seconds(1))
        }
        return figures
    }

    /// Waits until every partition's events since `instant` come from the owners `done` accepts
    /// (each partition's last event is its owner), plus a second; returns when they first did.
    private func settle(_ handled: Handled, since instant: ContinuousClock.Instant,
                        until done: ([UInt32: Int]) -> Bool) async throws -> ContinuousClock.Instant {
        let limit = instant + .seconds(60)
        while ContinuousClock.now < limit {
            var owners: [UInt32: Int] = [:]
            for partition in 0..<partitions {
                if let last = handled.all(partition).last, last.at > instant { owners[partition] = last.host }
            }
            if owners.count == Int(partitions) && done(owners) {
                let reached = ContinuousClock.now
                try await Task.sleep(for: .seconds(1))
                return reached
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw GanglionError(code: .timeout, message: "the shards did not settle on their new owners within 60 s")
    }

    /// The handoff of each shard whose owner changed in `[from, to]`, and the largest gap of the
    /// others in that window beside their largest in as long a window before it.
    private func measure(_ handled: Handled, from: ContinuousClock.Instant, to: ContinuousClock.Instant, into figures: inout Figures) {
        let window = max(to - from, .milliseconds(500))
        var during = 0.0, quiet = 0.0
        var anyUnmoved = false
        for partition in 0..<partitions {
            let events = handled.all(partition)
            let before = events.last { $0.at <= from }
            let after = events.last { $0.at <= to }
            if let before, let after, before.host != after.host {
                // The first event on the new host after the old host's last one.
                if let switchIndex = events.lastIndex(where: { $0.at <= to && $0.host == before.host }), switchIndex + 1 < events.count {
                    figures.handoffs.append((events[switchIndex + 1].at - events[switchIndex].at) / .seconds(1))
                }
            } else {
                anyUnmoved = true
                during = max(during, Self.largestGap(events, in: from...to))
                quiet = max(quiet, Self.largestGap(events, in: (from - window)...from))
            }
        }
        if anyUnmoved { figures.unmoved.append((during, quiet)) }
    }

    /// The largest gap between consecutive events inside `range` (seconds).
    static func largestGap(_ events: [(at: ContinuousClock.Instant, host: Int)], in range: ClosedRange<ContinuousClock.Instant>) -> Double {
        let times = events.map(\.at).filter { range.contains($0) }
        return zip(times, times.dropFirst()).map { ($1 - $0) / .seconds(1) }.max() ?? 0
    }

    static func event(id: String, key: String) throws -> EventEnvelope {
        var event = EventEnvelope()
        event.id = id
        event.type = "tick"
        event.key = Data(key.utf8)
        return event
    }

    /// The figures as printed.
    static func lines(_ figures: Figures, keys: Int) -> [String] {
        let sorted = figures.handoffs.sorted()
        func at(_ q: Double, _ values: [Double]? = nil) -> Double {
            let sorted = values?.sorted() ?? sorted
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
        }
        func ratio(_ move: (during: Double, quiet: Double)) -> Double { move.quiet > 0 ? move.during / move.quiet : 0 }
        let ratios = figures.unmoved.map(ratio)
        let worst = figures.unmoved.max { ratio($0) < ratio($1) }
        return ["== ganglion bench --handoff: shards of \(keys) keys each moving between two agent hosts (a join, then a graceful leave, per round; 3 node processes, an event per partition every 20 ms) ==",
                "  handoff (old owner's last event → new owner's first), \(sorted.count) moves: p50 \(Int(at(0.5) * 1000)) ms, p99 \(Int(at(0.99) * 1000)) ms, max \(Int((sorted.last ?? 0) * 1000)) ms (goal p99 ≤ 1 000 ms)",
                "    by a join: p50 \(Int(at(0.5, figures.joins) * 1000)) ms, p99 \(Int(at(0.99, figures.joins) * 1000)) ms; by a graceful leave: p50 \(Int(at(0.5, figures.leaves) * 1000)) ms, p99 \(Int(at(0.99, figures.leaves) * 1000)) ms",
                "  unmoved shards, largest gap during a move / in as long a quiet stretch before it, \(ratios.count) moves: worst ratio \(String(format: "%.2f", ratios.max() ?? 0))× (\(Int((worst?.during ?? 0) * 1000)) ms / \(Int((worst?.quiet ?? 0) * 1000)) ms; goal ≤ 2×)"]
    }
}
