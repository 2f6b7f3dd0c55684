import ArgumentParser
import ClusterRuntime
import Foundation
import Ganglion

/// `ganglion bench`: the workload of `scripts/bench-peers.sh` (produce with interval fsync and
/// with fsync before every acknowledgement, consume+commit by a group of two, end-to-end latency
/// at a fixed rate) against node processes it starts itself, or against a running node.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure produce, consume+commit and end-to-end latency (events of 256 B and 1 KiB).",
        discussion: """
            Starts its own `ganglion node` processes (interval fsync, then fsync before every \
            acknowledgement) in temporary directories and stops them afterwards, removing their \
            data — also when interrupted (Ctrl-C, SIGTERM) or killed; with --node it measures that \
            node instead (under whatever fsync policy it runs). --json writes the figures in the \
            peer benchmark's format (scripts/bench-peers.sh merges them into one table).
            """)

    @Option(name: .customLong("node"), help: "A running node's request endpoint; default: start node processes.")
    var endpoint: String?
    @Option(help: "Event sizes in bytes, comma-separated.") var sizes = "256,1024"
    @Option(help: "Runs per figure (the median is reported).") var runs = 3
    @Option(help: "Measured seconds of each produce run (after 0.5 s of warm-up).") var produceSeconds = 5.0
    @Option(help: "Concurrent producers.") var producers = 2
    @Option(help: "Events per produce batch.") var batch = 64
    @Option(help: "Events in flight per producer (as the peers' window).") var window = 256
    @Option(help: "Events preloaded, then consumed and committed by a group of two.") var consumeEvents = 200_000
    @Option(help: "Measured seconds of the fixed-rate latency run.") var latencySeconds = 5.0
    @Option(help: "Events per second of the latency run.") var rate = 10_000
    @Flag(help: "Short runs (1 run, 1 s, 20 000 events): a smoke test, not figures.") var quick = false
    @Option(help: "Write the figures as JSON (the peer benchmark's format) to this file.") var json: String?
    @Flag(help: "Measure the agent runtime instead: events/s through a trivial agent, a bare consumer's, handler-start latency.") var agents = false
    @Option(help: "Events per agent throughput run.") var agentEvents = 20_000
    @Option(help: "Keys the agent throughput run's events are spread over (1: one hot key).") var agentKeys = 256
    @Flag(help: "Measure scaling agents by adding nodes instead: a 20 ms handler on 24 partitions hosted on 1, 2 and 3 node processes, events/s and the ratio to one node.")
    var agentScaling = false
    @Option(help: "Handlers in flight per node in the --agent-scaling run.") var agentBudget = 32
    @Flag(help: "Measure shard failover instead: kill -9 of a node hosting agent shards until they all handle events again on other nodes (3 node processes).")
    var shardFailover = false
    @Option(help: "Kills in the --shard-failover run.") var kills = 10
    @Flag(help: "Measure shard handoff instead: shards of --handoff-keys keys each moving between two agent hosts (a join, then a graceful leave, per round), old owner's last event to new owner's first, and the unmoved shards' largest gap (3 node processes).")
    var handoff = false
    @Option(help: "Rounds (a join and a leave each) of the --handoff run.") var handoffRounds = 5
    @Option(help: "Keys of state per shard in the --handoff run.") var handoffKeys = 10_000
    @Flag(help: "Measure the controller instead: topic create and schema register latency through 3 voters (to the leader and to a follower) beside a cluster of one.")
    var controller = false
    @Option(help: "Writes of each kind per controller setup.") var controllerWrites = 200
    @Flag(help: "Measure the cost of replication instead: produce events/s to RF 1 and RF 3 topics (acks=all) on a cluster of three node processes, their ratio, and acks=all ack latency at a fixed rate.")
    var replication = false
    @Option(help: "The fsync policy of the --replication nodes (batch: fsync before every ack, the default; interval).") var replicationFsync = "batch"

    @Flag(help: "Measure HTTP ingest instead: events/s accepted over POST /v1/topics/T/events (one binary-mode event per request, and batches), beside the ZeroMQ produce figure of the same run.")
    var http = false
    @Option(help: "Kept-alive HTTP connections of the --http run.") var httpConnections = 4
    @Option(help: "Events per batched request of the --http run.") var httpBatch = 64
    @Flag(help: "Measure the cost of security instead: produce events/s and e2e latency on a plain node and on one with CurveZMQ and ACLs, side by side, with the ratios.")
    var security = false
    @Option(help: "Only these figures, comma-separated: produce, consume, latency, commits, produce-always (default: all). commits: produce acknowledgement p50/p99 quiet and with 64 partitions committing offsets every 100 ms, and their ratio.")
    var only = "produce,consume,latency,commits,produce-always"

    func validate() throws {
        guard parsedSizes.count > 0, parsedSizes.allSatisfy({ $0 >= 8 && $0 <= 1 << 20 }) else {
            throw ValidationError("--sizes \(sizes) must list sizes between 8 B and 1 MiB, e.g. 256,1024")
        }
        guard !selected.isEmpty, selected.count == only.split(separator: ",").count else {
            throw ValidationError("--only \(only) must list figures among produce, consume, latency, commits, produce-always")
        }
        guard runs >= 1, producers >= 1, batch >= 1, window >= batch, rate >= 1, consumeEvents >= 1 else {
            throw ValidationError("--runs, --producers, --batch, --rate and --consume-events must be at least 1, and --window at least --batch")
        }
    }

    /// The figures asked for by --only, in the order they are measured.
    private var selected: [BenchMetric] {
        let names = Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let known: [(String, BenchMetric)] = [
            ("produce", .produceInterval), ("consume", .consume), ("latency", .latency), ("commits", .produceUnderCommits),
            ("produce-always", .produceAlways),
        ]
        return known.filter { names.contains($0.0) }.map(\.1)
    }

    private var parsedSizes: [Int] { sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() async throws {
        BenchScratch.cleanUpOnInterruption()
        // Interrupted, the clean-up ends the process with 128 + the signal (as a shell reports
        // it); the run must not end first with a status of its own (an error from the very nodes
        // the clean-up stops, or a run that finished meanwhile).
        do {
            try await runSelected()
        } catch {
            BenchScratch.awaitInterruptionExit()
            throw error
        }
        BenchScratch.awaitInterruptionExit()
    }

    private func runSelected() async throws {
        if controller {
            let lines = try await ControllerBenchmark(writes: quick ? 20 : controllerWrites).run()
            print("== ganglion bench --controller: metadata writes, one at a time, fsync before every answer ==")
            print(lines.joined(separator: "\n"))
            return
        }
        if http {
            return try await measureHTTP()
        }
        if security {
            let workload = BenchWorkload(runs: quick ? 1 : runs, produceSeconds: quick ? 1 : produceSeconds, producers: producers, batch: batch,
                                         window: window, consumeEvents: 0, latencySeconds: quick ? 1 : latencySeconds, rate: rate)
            let figures = try await SecurityBenchmark(workload: workload, sizes: parsedSizes).run()
            print(SecurityBenchmark.lines(figures, workload: workload).joined(separator: "\n"))
            return
        }
        if replication {
            let workload = BenchWorkload(runs: quick ? 1 : runs, produceSeconds: quick ? 1 : produceSeconds, producers: producers, batch: batch,
                                         window: window, consumeEvents: 0, latencySeconds: quick ? 1 : latencySeconds, rate: rate)
            let benchmark = ReplicationBenchmark(workload: workload, sizes: parsedSizes, fsync: replicationFsync)
            let figures = try await benchmark.run()
            print(ReplicationBenchmark.lines(figures, workload: workload, fsync: replicationFsync).joined(separator: "\n"))
            if let json {
                try ReplicationBenchmark.json(figures, workload: workload, fsync: replicationFsync).write(to: URL(fileURLWithPath: json))
                FileHandle.standardError.write(Data("figures written to \(json)\n".utf8))
            }
            return
        }
        if shardFailover {
            let times = try await ShardFailoverBenchmark(kills: quick ? 1 : kills).run()
            print(ShardFailoverBenchmark.lines(times).joined(separator: "\n"))
            return
        }
        if handoff {
            let keys = quick ? 1_000 : handoffKeys
            let figures = try await HandoffBenchmark(rounds: quick ? 1 : handoffRounds, keys: keys).run()
            print(HandoffBenchmark.lines(figures, keys: keys).joined(separator: "\n"))
            return
        }
        if agentScaling {
            let events = quick ? 1_000 : 12_000
            let results = try await AgentScalingBenchmark(events: events, budget: agentBudget).run()
            print(AgentScalingBenchmark.lines(results, budget: agentBudget).joined(separator: "\n"))
            return
        }
        if agents {
            let node = endpoint == nil ? try BenchNodeProcess(fsync: "interval") : nil
            defer { node?.stop() }
            let lines = try await AgentBenchmark(api: endpoint ?? node!.api, events: quick ? 2_000 : agentEvents, keys: agentKeys).run()
            print("== ganglion bench --agents: \(endpoint ?? "node process, interval fsync 100 ms") ==")
            print(lines.joined(separator: "\n"))
            guard endpoint == nil else { return }
            // The same with the agent inside the node's process, its shards on the node's logs.
            var configuration = NodeConfiguration()
            configuration.dataDirectory = NSTemporaryDirectory() + "ganglion-bench-agents-" + UUID().uuidString
            BenchScratch.keep(path: configuration.dataDirectory)
            configuration.apiEndpoint = "tcp://127.0.0.1:0"
            configuration.pubEndpoint = "tcp://127.0.0.1:0"
            configuration.durability = .interval(.milliseconds(100))
            let inProcess = try Node(configuration: configuration)
            defer {
                inProcess.stop()
                try? FileManager.default.removeItem(atPath: configuration.dataDirectory)
                BenchScratch.forget(path: configuration.dataDirectory)
            }
            let local = try await AgentBenchmark(api: inProcess.endpoints.api, events: quick ? 2_000 : agentEvents, keys: agentKeys, node: inProcess).run()
            print("== the agent in the node's process (shards on its logs directly), interval fsync 100 ms ==")
            print(local.joined(separator: "\n"))
            return
        }
        let workload = BenchWorkload(
            runs: quick ? 1 : runs, produceSeconds: quick ? 1 : produceSeconds, producers: producers, batch: batch,
            window: window, consumeEvents: quick ? 20_000 : consumeEvents, latencySeconds: quick ? 1 : latencySeconds, rate: rate)
        var report = BenchReport(workload: workload)
        if let endpoint {
            report.label = "Ganglion node at \(endpoint)"
            try await measure(api: endpoint, workload: workload, report: &report, metrics: selected)
        } else {
            let onInterval = selected.filter { $0 != .produceAlways }
            if !onInterval.isEmpty {
                let interval = try BenchNodeProcess(fsync: "interval")
                do {
                    try await measure(api: interval.api, dataDirectory: interval.directory, workload: workload, report: &report, metrics: onInterval)
                } catch {
                    interval.stop()
                    throw error
                }
                interval.stop()
            }
            guard selected.contains(.produceAlways) else { return try finish(report) }
            let everyBatch = try BenchNodeProcess(fsync: "batch")
            do {
                try await measure(api: everyBatch.api, dataDirectory: everyBatch.directory, workload: workload, report: &report, metrics: [.produceAlways])
            } catch {
                everyBatch.stop()
                throw error
            }
            everyBatch.stop()
        }
        try finish(report)
    }

    /// `--http`: a node process (interval fsync), the ZeroMQ produce figure and the HTTP ingest
    /// figures of each run at the first size, and their medians.
    private func measureHTTP() async throws {
        guard httpConnections >= 1, httpConnections <= 256, httpBatch >= 2, httpBatch <= 1_000 else {
            throw ValidationError("--http-connections must be 1…256 and --http-batch 2…1000")
        }
        let node = try BenchNodeProcess(fsync: "interval")
        defer { node.stop() }
        var http = ""
        for _ in 0..<400 where http.isEmpty {
            if let data = FileManager.default.contents(atPath: node.directory + "/endpoints.json"),
               let endpoints = try? JSONSerialization.jsonObject(with: data) as? [String: String] { http = endpoints["http"] ?? "" }
            if http.isEmpty { try await Task.sleep(for: .milliseconds(25)) }
        }
        guard !http.isEmpty else { throw ValidationError("the benchmark's node wrote no HTTP endpoint") }
        let client = try GanglionClient(endpoint: node.api, timeout: .seconds(30))
        defer { client.close() }
        let workload = BenchWorkload(runs: quick ? 1 : runs, produceSeconds: quick ? 1 : produceSeconds, producers: producers, batch: batch,
                                     window: window, consumeEvents: 0, latencySeconds: 0, rate: rate)
        let size = parsedSizes[0]
        let benchmark = HTTPIngestBenchmark(http: http, runner: BenchRunner(client: client, api: node.api, workload: workload, dataDirectory: node.directory),
                                            size: size, connections: httpConnections, batch: httpBatch, seconds: workload.produceSeconds)
        let figures = try await benchmark.run(runs: workload.runs)
        func median(_ column: Int) -> Int { Int(figures.map { $0[column] }.sorted()[figures.count / 2]) }
        print("== ganglion bench --http: \(size) B events, node process with interval fsync 100 ms, \(workload.produceSeconds) s per figure ==")
        for (index, run) in figures.enumerated() {
            print("run \(index + 1): ZeroMQ produce \(Int(run[0])) events/s | HTTP, 1 event/request: \(Int(run[1])) events/s | HTTP, \(httpBatch) events/request: \(Int(run[2])) events/s")
        }
        print("median: ZeroMQ produce (\(producers) producers, \(window / batch) batches of \(batch) in flight each) \(median(0)) events/s; "
            + "HTTP over \(httpConnections) kept-alive connections: \(median(1)) events/s with 1 event/request (\(String(format: "%.1f", Double(median(1)) / Double(max(1, median(0))) * 100))% of ZeroMQ), "
            + "\(median(2)) events/s with \(httpBatch) events/request (\(String(format: "%.1f", Double(median(2)) / Double(max(1, median(0))) * 100))%)")
    }

    /// Prints the table and writes the JSON file when asked for.
    private func finish(_ report: BenchReport) throws {
        print(report.table(sizes: parsedSizes))
        if let json {
            try report.json(sizes: parsedSizes).write(to: URL(fileURLWithPath: json))
            FileHandle.standardError.write(Data("figures written to \(json)\n".utf8))
        }
    }

    private func measure(api: String, dataDirectory: String? = nil, workload: BenchWorkload, report: inout BenchReport,
                         metrics: [BenchMetric]) async throws {
        let client = try GanglionClient(endpoint: api, timeout: .seconds(30))
        defer { client.close() }
        let runner = BenchRunner(client: client, api: api, workload: workload, dataDirectory: dataDirectory)
        for size in parsedSizes {
            for metric in metrics {
                for run in 1...workload.runs {
                    let figures = try await runner.measure(metric, size: size)
                    report.add(metric, size: size, figures)
                    let shown = switch metric {
                    case .latency:
                        "p50 \(Int(figures[0])) µs, p99 \(Int(figures[1])) µs; libzmq C relay floor p50 \(Int(figures[2])) µs, p99 \(Int(figures[3])) µs "
                            + "(\(String(format: "%.2f", figures[0] / figures[2]))x, \(String(format: "%.2f", figures[1] / figures[3]))x); "
                            + "stages p50/p99: client \(Int(figures[4]))/\(Int(figures[5])) µs, node \(figures[6] < 0 ? "n/a" : "\(Int(figures[6]))/\(Int(figures[7])) µs"); "
                            + "produce ack round trip \(Int(figures[8]))/\(Int(figures[9])) µs; "
                            + "durable C relay floor p50 \(Int(figures[10])) µs, p99 \(Int(figures[11])) µs"
                    case .produceUnderCommits:
                        "ack p50 \(Int(figures[0])) µs, p99 \(Int(figures[1])) µs quiet; p50 \(Int(figures[2])) µs, p99 \(Int(figures[3])) µs with 64 partitions committing (p99 ratio \(String(format: "%.2f", figures[3] / figures[1])))"
                    default: "\(Int(figures[0])) events/s"
                    }
                    FileHandle.standardError.write(Data("[ganglion] \(metric.rawValue) \(size) B run \(run)/\(workload.runs): \(shown)\n".utf8))
                }
            }
        }
    }
}
