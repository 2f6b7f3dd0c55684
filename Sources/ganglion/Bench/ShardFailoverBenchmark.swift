import ClusterCore
import EventLog
import Foundation
import Ganglion
import GanglionWire

/// `ganglion bench --shard-failover`: kill -9 of a node hosting agent shards → those shards
/// handling events again elsewhere. Three node processes (node session 1.5 s), one agent host per
/// node (in this process, each through its own node), 12 partitions fed continuously; each round
/// kills a node other than the first with SIGKILL (and stops its host with it), measures the time
/// until every shard it hosted has handled an event on another node, then restarts it.
struct ShardFailoverBenchmark {
    let kills: Int

    /// When each partition last handled an event, and on which host.
    final class Handled: HandledNotes, @unchecked Sendable {
        // `last` is guarded by `lock`.
        private let lock = NSLock()
        private var last: [UInt32: (at: ContinuousClock.Instant, host: Int)] = [:]

        func note(_ partition: UInt32, host: Int) { lock.withLock { last[partition] = (.now, host) } }
        func lastHost(_ partition: UInt32) -> Int? { lock.withLock { last[partition]?.host } }
        func since(_ instant: ContinuousClock.Instant, _ partition: UInt32, notOn host: Int) -> Bool {
            lock.withLock { last[partition].map { $0.at > instant && $0.host != host } ?? false }
        }
    }

    /// The failover time of each kill (seconds).
    func run() async throws -> [Double] {
        var cluster = try BenchCluster(prefix: "f", fsync: "interval", extra: ["--node-session-timeout-ms", "1500"])
        defer { cluster.stop() }
        let client = try GanglionClient(endpoint: cluster.nodes[0].api, timeout: .seconds(20))
        defer { client.close() }
        try await BenchCluster.wait(client) { $0.topics.contains { $0.name == GroupPlacement.offsetsTopic } }
        let run = UUID().uuidString.prefix(6).lowercased()
        let topic = "bench-failover-\(run)", name = "bench-failover-agent-\(run)"
        _ = try await client.createTopic(topic, partitions: 12)
        let handled = Handled()
        var hosts: [Task<Void, any Error>?] = [nil, nil, nil]
        func startHost(_ index: Int) {
            let endpoint = cluster.nodes[index].api
            // Restarted when it stops (a shard fenced by a newer owner stops its host), as a
            // node's agents service does.
            hosts[index] = Task {
                let agent = BenchRecorderAgent(name: name, subscription: try AgentSubscription(topic: topic), host: index, handled: handled)
                while !Task.isCancelled {
                    do {
                        try await AgentHost(client: try GanglionClient(endpoint: endpoint, timeout: .seconds(20))).run(agent)
                    } catch is CancellationError {
                        return
                    } catch {
                        if ProcessInfo.processInfo.environment["GANGLION_BENCH_DEBUG"] != nil {
                            FileHandle.standardError.write(Data("host f\(index + 1) stopped: \(error)\n".utf8))
                        }
                        try await Task.sleep(for: .milliseconds(200))
                    }
                }
            }
        }
        for index in 0..<3 { startHost(index) }
        defer { hosts.forEach { $0?.cancel() } }
        // Events to every partition, every 20 ms, until the end.
        let feeder = Task {
            var sequence = 0
            while !Task.isCancelled {
                for partition in 0..<UInt32(12) {
                    var event = EventEnvelope()
                    sequence += 1
                    event.id = "f-\(sequence)"
                    event.type = "tick"
                    event.key = Data("p\(partition)".utf8)
                    var batch = RecordBatchBuilder()
                    batch.append(key: Array(event.key), value: try event.serializedBytes(), timestamp: 1)
                    _ = try? await client.produce(topic: topic, partition: partition, batch: batch.build(), timeout: .seconds(5))
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        defer { feeder.cancel() }
        var times: [Double] = []
        for round in 0..<kills {
            let victim = 1 + round % 2
            // Every host holds its share before the kill.
            var moved: [UInt32] = []
            let settle = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < settle {
                if let group = try? await client.describeGroup(name), group.members.count == 3,
                   group.members.allSatisfy({ $0.state == "stable" && !$0.assigned.isEmpty }),
                   let member = group.members.first(where: { $0.node == "f\(victim + 1)" }) {
                    moved = member.assigned.flatMap(\.partitions)
                    if !moved.isEmpty { break }
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(500))
            if ProcessInfo.processInfo.environment["GANGLION_BENCH_DEBUG"] != nil {
                let group = try? await client.describeGroup(name)
                FileHandle.standardError.write(Data("round \(round) victim f\(victim + 1) moved \(moved) last hosts \(moved.map { handled.lastHost($0) ?? -1 }) members \(group?.members.map { "\($0.node):\($0.assigned.flatMap(\.partitions))" } ?? [])\n".utf8))
            }
            let killed = ContinuousClock.now
            cluster.nodes[victim].kill()
            hosts[victim]?.cancel()
            let limit = killed + .seconds(30)
            while ContinuousClock.now < limit, !moved.allSatisfy({ handled.since(killed, $0, notOn: victim) }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            times.append((ContinuousClock.now - killed) / .seconds(1))
            try cluster.restart(victim)
            startHost(victim)
        }
        return times
    }

    /// The figures as printed.
    static func lines(_ times: [Double]) -> [String] {
        let sorted = times.sorted()
        func at(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        return ["== ganglion bench --shard-failover: kill -9 of a node hosting agent shards → every one of them handling again on another node (3 node processes, node session 1.5 s) ==",
                "  \(times.count) kills: p50 \(Int(at(0.5) * 1000)) ms, p99 \(Int(at(0.99) * 1000)) ms, max \(Int((sorted.last ?? 0) * 1000)) ms (goal p99 ≤ 3 000 ms)"]
    }
}
