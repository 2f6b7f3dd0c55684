import EventLog
import Foundation
import Ganglion
import GanglionWire

/// `ganglion bench --replication`: the cost of replication on a cluster of three node
/// processes on this machine (three controller voters, fsync per batch on every replica):
/// produce throughput to RF 1 and RF 3 topics, both `acks=all`, in the same run, their ratio, and
/// the `acks=all` acknowledgement latency at a fixed rate for both. RF 3 is measured with both
/// replication transports — followers fetching alone, and followers on the leader's PUB stream
/// (fetching on gaps) — on a second cluster of three that runs beside the first, taking turns.
struct ReplicationBenchmark {
    let workload: BenchWorkload
    let sizes: [Int]
    /// The fsync policy of the three nodes.
    let fsync: String

    /// One size's figures: events/s (median of runs) and ack latency (µs).
    struct Figures {
        var rf1: [Double] = []
        var rf3: [Double] = []
        /// CPU time of the three node processes per acknowledged event (µs).
        var rf1CPU: [Double] = []
        var rf3CPU: [Double] = []
        /// The whole machine's CPU per acknowledged event (µs; the benchmark's client included)
        /// and how busy the machine was (fraction of all cores).
        var rf1Machine: [(perEvent: Double, busy: Double)] = []
        var rf3Machine: [(perEvent: Double, busy: Double)] = []
        /// RF 3 with followers on the leader's PUB stream (`--replication-transport pub`).
        var rf3Pub: [Double] = []
        var rf3PubCPU: [Double] = []
        var rf3PubMachine: [(perEvent: Double, busy: Double)] = []
        var latency: [String: (p50: Double, p99: Double)] = [:]
        /// The C floor's events/s with one replica and with three (``ReplicationFloor``), run by run.
        var floorRF1: [Double] = []
        var floorRF3: [Double] = []
    }

    /// Runs the measurement; returns the figures per size.
    func run() async throws -> [Int: Figures] {
        let cluster = try BenchCluster(prefix: "r", fsync: fsync)
        defer { cluster.stop() }
        let streamed = try BenchCluster(prefix: "s", fsync: fsync, extra: ["--replication-transport", "pub"])
        defer { streamed.stop() }
        let client = try GanglionClient(endpoint: cluster.nodes[0].api, timeout: .seconds(20))
        defer { client.close() }
        let streamedClient = try GanglionClient(endpoint: streamed.nodes[0].api, timeout: .seconds(20))
        defer { streamedClient.close() }
        // Every node registered, so RF 3 can be placed.
        try await BenchCluster.wait(client, seconds: 30) { $0.nodes.filter { $0.state == "alive" }.count == 3 }
        try await BenchCluster.wait(streamedClient, seconds: 30) { $0.nodes.filter { $0.state == "alive" }.count == 3 }
        let pids = cluster.nodes.map { $0.process.processIdentifier }, streamedPIDs = streamed.nodes.map { $0.process.processIdentifier }
        var figures: [Int: Figures] = [:]
        for size in sizes {
            var entry = Figures()
            for _ in 0..<workload.runs {
                // RF 1 and RF 3 fetching on the first cluster, RF 3 on the stream on the second.
                for (factor, onStream) in [(1, false), (3, false), (3, true)] {
                    let processes = onStream ? streamedPIDs : pids
                    let before = Self.cpuSeconds(processes), machineBefore = Self.machineCPU()
                    let rate = try await produce(onStream ? streamedClient : client, replicationFactor: factor, size: size)
                    let events = max(1, rate * (workload.produceSeconds + 0.5))
                    let cpu = (Self.cpuSeconds(processes) - before) * 1_000_000 / events
                    let machineAfter = Self.machineCPU()
                    let busy = machineAfter.busy - machineBefore.busy, total = machineAfter.total - machineBefore.total
                    let machine = (perEvent: busy * 1_000_000 / events, busy: total > 0 ? busy / total : 0)
                    switch (factor, onStream) {
                    case (1, _): entry.rf1.append(rate); entry.rf1CPU.append(cpu); entry.rf1Machine.append(machine)
                    case (_, false): entry.rf3.append(rate); entry.rf3CPU.append(cpu); entry.rf3Machine.append(machine)
                    default: entry.rf3Pub.append(rate); entry.rf3PubCPU.append(cpu); entry.rf3PubMachine.append(machine)
                    }
                }
                // The floor under the ratio, in the same run: the same layout, batches and requests
                // in flight (a floor run that fails is reported and left out, not the benchmark).
                do {
                    let floor = try ReplicationFloor.measure(batchBytes: batchBytes(size: size, count: workload.batch).count, eventsPerBatch: workload.batch,
                                                             partitions: 4, inFlight: workload.producers * max(1, workload.window / workload.batch),
                                                             seconds: workload.produceSeconds)
                    entry.floorRF1.append(floor.rf1)
                    entry.floorRF3.append(floor.rf3)
                } catch {
                    FileHandle.standardError.write(Data("[ganglion] replication floor run left out: \(error)\n".utf8))
                }
            }
            for factor in [1, 3] { entry.latency["rf\(factor)"] = try await latency(client, replicationFactor: factor, size: size) }
            entry.latency["rf3pub"] = try await latency(streamedClient, replicationFactor: 3, size: size)
            figures[size] = entry
        }
        return figures
    }

    /// User and system CPU seconds the processes used so far (/proc/PID/stat).
    static func cpuSeconds(_ pids: [Int32]) -> Double {
        var ticks = 0.0
        for pid in pids {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the command: state is field 3, utime 14, stime 15 (1-based over the whole line).
            if fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) { ticks += user + system }
        }
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The machine's busy and total CPU seconds so far, over all cores (/proc/stat).
    static func machineCPU() -> (busy: Double, total: Double) {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return (0, 0) }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 5 else { return (0, 0) }
        let idle = ticks[3] + ticks[4]  // idle + iowait
        let total = ticks.prefix(8).reduce(0, +)
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ((total - idle) / hz, total / hz)
    }

    private func topic(_ client: GanglionClient, replicationFactor: Int, partitions: UInt32) async throws -> String {
        let name = "bench-rf\(replicationFactor)-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await client.createTopic(name, partitions: partitions, retentionMilliseconds: 0, replicationFactor: UInt32(replicationFactor),
                                         minInSync: replicationFactor == 1 ? 1 : 2)
        // Every partition's leader and ISR known before the clock starts.
        for partition in 0..<partitions { _ = try await client.leader(of: name, partition: partition, refresh: true) }
        return name
    }

    private func batchBytes(size: Int, count: Int) -> [UInt8] {
        var builder = RecordBatchBuilder()
        for index in 0..<count {
            builder.append(key: Array("k\(index % 64)".utf8), value: (0..<size).map { _ in UInt8.random(in: 0...255) }, timestamp: 1)
        }
        return builder.build()
    }

    /// Acknowledged events/s: `producers` × (window / batch) requests in flight, round-robin over
    /// four partitions (leaders spread over the three nodes), `acks=all`.
    private func produce(_ client: GanglionClient, replicationFactor: Int, size: Int) async throws -> Double {
        let name = try await topic(client, replicationFactor: replicationFactor, partitions: 4)
        defer { Task { try? await client.deleteTopic(name) } }
        let bytes = batchBytes(size: size, count: workload.batch)
        let inFlight = max(1, workload.window / workload.batch)
        let start = ContinuousClock.now.advanced(by: workload.warmup)
        let end = start.advanced(by: .seconds(workload.produceSeconds))
        let batch = workload.batch
        let counted = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<(workload.producers * inFlight) {
                group.addTask {
                    var acknowledged = 0
                    var partition = UInt32(worker % 4)
                    while ContinuousClock.now < end {
                        try await client.produce(topic: name, partition: partition, batch: bytes, acks: .all)
                        let now = ContinuousClock.now
                        if now >= start && now < end { acknowledged += batch }
                        partition = (partition + 1) % 4
                    }
                    return acknowledged
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(counted) / workload.produceSeconds
    }

    /// p50 and p99 (µs) of the `acks=all` acknowledgement of single-event batches sent at
    /// `rate`/s to one partition.
    private func latency(_ client: GanglionClient, replicationFactor: Int, size: Int) async throws -> (p50: Double, p99: Double) {
        let name = try await topic(client, replicationFactor: replicationFactor, partitions: 1)
        defer { Task { try? await client.deleteTopic(name) } }
        let bytes = batchBytes(size: size, count: 1)
        let rate = min(workload.rate, 2_000)
        let interval = Duration.nanoseconds(1_000_000_000 / rate)
        let end = ContinuousClock.now + .seconds(workload.latencySeconds)
        let samples = SampleBox()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = ContinuousClock.now
            while next < end {
                let sent = next
                group.addTask {
                    try await client.produce(topic: name, partition: 0, batch: bytes, acks: .all)
                    await samples.add(Double((ContinuousClock.now - sent) / .microseconds(1)))
                }
                next += interval
                if next > ContinuousClock.now { try await Task.sleep(until: next) }
            }
            try await group.waitForAll()
        }
        let sorted = await samples.values.sorted()
        guard !sorted.isEmpty else { return (0, 0) }
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))])
    }

    /// The report's lines.
    static func lines(_ figures: [Int: Figures], workload: BenchWorkload, fsync: String) -> [String] {
        var lines = ["== ganglion bench --replication: 3 node processes on this machine (fsync \(fsync) on every replica), acks=all, medians of \(workload.runs) run(s) ==",
                     "   RF 3 fetch: followers replicate with REPLICA_FETCH alone; RF 3 pub: followers take the leader's PUB stream and fetch on gaps (a second cluster of 3, taking turns)"]
        for size in figures.keys.sorted() {
            let entry = figures[size]!
            let rf1 = median(entry.rf1), rf3 = median(entry.rf3), rf3Pub = median(entry.rf3Pub)
            lines.append(String(format: "%5d B  RF 1: %10.0f events/s   RF 3 fetch: %10.0f events/s   RF3/RF1 %.2f×", size, rf1, rf3, rf3 / rf1))
            lines.append(String(format: "                                       RF 3 pub:   %10.0f events/s   RF3/RF1 %.2f×   pub/fetch %.2f×", rf3Pub, rf3Pub / rf1, rf3Pub / max(1, rf3)))
            lines.append(String(format: "         node CPU per event (3 processes, whole run): RF 1 %.2f µs, RF 3 fetch %.2f µs (%.2f×), RF 3 pub %.2f µs (%.2f×)",
                                median(entry.rf1CPU), median(entry.rf3CPU), median(entry.rf3CPU) / max(0.0001, median(entry.rf1CPU)),
                                median(entry.rf3PubCPU), median(entry.rf3PubCPU) / max(0.0001, median(entry.rf1CPU))))
            let machine1 = median(entry.rf1Machine.map(\.perEvent)), machine3 = median(entry.rf3Machine.map(\.perEvent))
            lines.append(String(format: "         whole machine (client included): CPU per event RF 1 %.2f µs, RF 3 %.2f µs (%.2f×); busy %.0f%% and %.0f%% of %d cores",
                                machine1, machine3, machine3 / max(0.0001, machine1), median(entry.rf1Machine.map(\.busy)) * 100,
                                median(entry.rf3Machine.map(\.busy)) * 100, ProcessInfo.processInfo.activeProcessorCount))
            lines.append(String(format: "         => with the machine saturated, RF3/RF1 can be at most about %.2f× here (the ratio of CPU per event)", machine1 / max(0.0001, machine3)))
            let machinePub = median(entry.rf3PubMachine.map(\.perEvent))
            lines.append(String(format: "         whole machine, RF 3 pub: CPU per event %.2f µs (%.2f× RF 1); busy %.0f%%",
                                machinePub, machinePub / max(0.0001, machine1), median(entry.rf3PubMachine.map(\.busy)) * 100))
            let floor1 = median(entry.floorRF1), floor3 = median(entry.floorRF3)
            if floor1 > 0 {
                lines.append(String(format: "         floor (libzmq + fdatasync in C, same layout, batches and requests in flight): RF 1 %.0f, RF 3 %.0f events/s, RF3/RF1 %.2f×",
                                    floor1, floor3, floor3 / floor1))
                lines.append(String(format: "         => Ganglion's RF3/RF1 is %.2f× the floor's (fetch), %.2f× (pub); floor runs RF3/RF1: %@",
                                    (rf3 / rf1) / (floor3 / floor1), (rf3Pub / rf1) / (floor3 / floor1),
                                    zip(entry.floorRF1, entry.floorRF3).map { String(format: "%.2f×", $1 / $0) }.joined(separator: " / ")))
            }
            lines.append("         runs RF 1: " + entry.rf1.map { String(format: "%.0f", $0) }.joined(separator: " / ")
                         + "   RF 3 fetch: " + entry.rf3.map { String(format: "%.0f", $0) }.joined(separator: " / ")
                         + "   RF 3 pub: " + entry.rf3Pub.map { String(format: "%.0f", $0) }.joined(separator: " / "))
            for (factor, label) in [("rf1", "RF 1"), ("rf3", "RF 3 fetch"), ("rf3pub", "RF 3 pub")] {
                if let latency = entry.latency[factor] {
                    lines.append(String(format: "         acks=all ack latency %@ at a fixed rate: p50 %.0f µs, p99 %.0f µs", label, latency.p50, latency.p99))
                }
            }
        }
        return lines
    }

    /// The peer benchmark's document: figures `produce-rf1` and `produce-rf3`.
    static func json(_ figures: [Int: Figures], workload: BenchWorkload, fsync: String) throws -> Data {
        var results: [String: [String: Any]] = ["produce-rf1": [:], "produce-rf3": [:], "produce-rf3-pub": [:]]
        for (size, entry) in figures {
            results["produce-rf1"]![String(size)] = ["unit": "events/s", "median": median(entry.rf1), "runs": entry.rf1]
            results["produce-rf3"]![String(size)] = ["unit": "events/s", "median": median(entry.rf3), "runs": entry.rf3]
            results["produce-rf3-pub"]![String(size)] = ["unit": "events/s", "median": median(entry.rf3Pub), "runs": entry.rf3Pub]
        }
        let document: [String: Any] = [
            "schema": "ganglion-peer-bench/1",
            "created": ISO8601DateFormatter().string(from: Date()),
            "host": ["cpus": ProcessInfo.processInfo.activeProcessorCount],
            "workload": ["runs": workload.runs, "produce_s": workload.produceSeconds, "producers": workload.producers,
                         "batch": workload.batch, "window": workload.window],
            "systems": ["ganglion": [
                "label": "Ganglion", "server": "ganglion node \(GanglionVersion.current) ×3", "client": "Ganglion Swift client",
                "config": "3 node processes, fsync \(fsync) on every replica, acks=all (all in-sync replicas, min-insync 2)", "results": results,
            ] as [String: Any]],
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}

/// Latency samples from many tasks.
actor SampleBox {
    private(set) var values: [Double] = []
    func add(_ value: Double) { values.append(value) }
}
