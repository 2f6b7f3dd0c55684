import Foundation

/// The figures of one benchmark, printed as a table and written in the peer benchmark's JSON
/// format (`ganglion-peer-bench/1`, system key `ganglion`; see Benchmarks/peers/table.py).
struct BenchReport {
    let workload: BenchWorkload
    var label = "Ganglion (node processes: interval fsync 100 ms; fsync before ack)"
    private var runs: [String: [Int: [[Double]]]] = [:]

    init(workload: BenchWorkload) { self.workload = workload }

    mutating func add(_ metric: BenchMetric, size: Int, _ figures: [Double]) {
        runs[metric.rawValue, default: [:]][size, default: []].append(figures)
    }

    /// (title, JSON key, index into a run's figures, unit) of each row, in the peers' order.
    private static let rows: [(String, String, String, Int, String)] = [
        ("produce, interval fsync", "produce_interval", "produce_interval", 0, "events/s"),
        ("produce, fsync before ack", "produce_always", "produce_always", 0, "events/s"),
        ("consume+commit, 2 consumers", "consume", "consume", 0, "events/s"),
        ("e2e latency p50 @\(10_000 / 1000)k/s", "latency_p50", "latency", 0, "us"),
        ("e2e latency p99 @\(10_000 / 1000)k/s", "latency_p99", "latency", 1, "us"),
        ("libzmq C relay floor p50 @\(10_000 / 1000)k/s", "floor_p50", "latency", 2, "us"),
        ("libzmq C relay floor p99 @\(10_000 / 1000)k/s", "floor_p99", "latency", 3, "us"),
        ("stage: client, wake-up to sent, p50", "stage_client_p50", "latency", 4, "us"),
        ("stage: client, wake-up to sent, p99", "stage_client_p99", "latency", 5, "us"),
        ("stage: node, receipt to stream, p50", "stage_node_p50", "latency", 6, "us"),
        ("stage: node, receipt to stream, p99", "stage_node_p99", "latency", 7, "us"),
        ("produce ack round trip p50 (same run)", "latency_ack_p50", "latency", 8, "us"),
        ("produce ack round trip p99 (same run)", "latency_ack_p99", "latency", 9, "us"),
        ("libzmq C relay + log write + acks floor p50 @\(10_000 / 1000)k/s", "durable_floor_p50", "latency", 10, "us"),
        ("libzmq C relay + log write + acks floor p99 @\(10_000 / 1000)k/s", "durable_floor_p99", "latency", 11, "us"),
        ("produce ack p50 @10k/s, quiet", "produce_ack_p50", "produce_under_commits", 0, "us"),
        ("produce ack p99 @10k/s, quiet", "produce_ack_p99", "produce_under_commits", 1, "us"),
        ("produce ack p50 @10k/s, 64 partitions committing /100 ms", "produce_ack_committing_p50", "produce_under_commits", 2, "us"),
        ("produce ack p99 @10k/s, 64 partitions committing /100 ms", "produce_ack_committing_p99", "produce_under_commits", 3, "us"),
    ]

    private func values(_ metric: String, _ size: Int, _ index: Int) -> [Double] {
        // A figure a run could not measure (the node's stage of a node started elsewhere) is -1.
        (runs[metric]?[size] ?? []).compactMap { $0.count > index && $0[index] >= 0 ? $0[index] : nil }
    }

    private static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// One line per figure: the median of the runs.
    func table(sizes: [Int]) -> String {
        var lines = ["== ganglion bench: \(label), medians of \(workload.runs) run(s) =="]
        for (title, _, metric, index, unit) in Self.rows {
            for size in sizes {
                guard let median = Self.median(values(metric, size, index)) else { continue }
                let shownTitle = metric == "latency" || metric == "produce_under_commits" ? title.replacingOccurrences(of: "10k", with: "\(workload.rate / 1000)k") : title
                lines.append("  \(shownTitle) (\(unit == "us" ? "µs" : "ev/s")), \(size) B: \(Int(median.rounded()))")
            }
        }
        for size in sizes {
            // Each run's ratio to the floor measured just before it, in the same run.
            let runs = self.runs["latency"]?[size] ?? []
            let p50s = runs.filter { $0.count >= 4 }.map { $0[0] / $0[2] }, p99s = runs.filter { $0.count >= 4 }.map { $0[1] / $0[3] }
            guard let p50 = Self.median(p50s), let p99 = Self.median(p99s) else { continue }
            lines.append("  e2e latency / libzmq floor, \(size) B: p50 \(String(format: "%.2f", p50))x, p99 \(String(format: "%.2f", p99))x")
            // Beside it: how much of that the least durable, acknowledged relay pays too.
            let durable = runs.filter { $0.count >= 12 && $0[10] > 0 }
            if let durableP50 = Self.median(durable.map { $0[10] / $0[2] }), let oursP50 = Self.median(durable.map { $0[0] / $0[10] }),
               let durableP99 = Self.median(durable.map { $0[11] / $0[3] }), let oursP99 = Self.median(durable.map { $0[1] / $0[11] }) {
                lines.append("  durable C relay / libzmq floor, \(size) B: p50 \(String(format: "%.2f", durableP50))x, p99 \(String(format: "%.2f", durableP99))x; "
                             + "e2e / durable C relay: p50 \(String(format: "%.2f", oursP50))x, p99 \(String(format: "%.2f", oursP99))x")
            }
        }
        for size in sizes {
            // Each run's ratio, quiet and loaded measured back to back: the figure to judge.
            let ratios = (runs["produce_under_commits"]?[size] ?? []).map { $0[3] / $0[1] }
            guard let median = Self.median(ratios) else { continue }
            let each = ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ")
            lines.append("  produce ack p99 committing / quiet, \(size) B: \(String(format: "%.2f", median)) (runs: \(each))")
        }
        return lines.joined(separator: "\n")
    }

    /// The peer benchmark's document with one system, `ganglion`.
    func json(sizes: [Int]) throws -> Data {
        var results: [String: [String: Any]] = [:]
        for (_, key, metric, index, unit) in Self.rows {
            var cells: [String: Any] = [:]
            for size in sizes {
                let measured = values(metric, size, index)
                guard let median = Self.median(measured) else { continue }
                cells[String(size)] = ["unit": unit, "median": median, "runs": measured]
            }
            if !cells.isEmpty { results[key] = cells }
        }
        let version = GanglionVersion.current
        let document: [String: Any] = [
            "schema": "ganglion-peer-bench/1",
            "created": ISO8601DateFormatter().string(from: Date()),
            "host": ["cpus": ProcessInfo.processInfo.activeProcessorCount],
            "workload": ["runs": workload.runs, "produce_s": workload.produceSeconds, "producers": workload.producers,
                         "batch": workload.batch, "window": workload.window, "consume_events": workload.consumeEvents,
                         "latency_s": workload.latencySeconds, "latency_rate": workload.rate],
            "systems": ["ganglion": [
                "label": "Ganglion", "server": "ganglion node \(version)", "client": "Ganglion Swift client",
                "config": label, "results": results,
            ] as [String: Any]],
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
    }
}
