import CZeroMQBaseline
import Foundation
import Ganglion
import ZeroMQ

/// `bench --security`: what CurveZMQ (and the ACL check on every request) costs. Two node
/// processes run side by side, one plain and one with security on (`--security-dir`, the client
/// a super user), and each figure is measured on both in turn, run by run: produce events/s and
/// end-to-end latency p50/p99 at each size, with the secured/plain ratios of the medians.
struct SecurityBenchmark {
    let workload: BenchWorkload
    let sizes: [Int]

    /// One figure measured on both nodes: plain and secured, per run.
    struct Figure {
        var name: String
        var plain: [Double] = []
        var secured: [Double] = []
    }

    func run() async throws -> [Figure] {
        let keys = NSTemporaryDirectory() + "ganglion-bench-keys-" + UUID().uuidString
        BenchScratch.keep(path: keys)
        defer {
            try? FileManager.default.removeItem(atPath: keys)
            BenchScratch.forget(path: keys)
        }
        let cluster = try CurveKeyPair.generate(), admin = try CurveKeyPair.generate()
        try CurveKeyFiles.write(cluster, name: CurveKeyFiles.clusterName, directory: keys)
        try CurveKeyFiles.write(admin, name: "admin", directory: keys)
        let plainNode = try BenchNodeProcess(fsync: "interval")
        defer { plainNode.stop() }
        let securedNode = try BenchNodeProcess(fsync: "interval", extra: ["--security-dir", keys])
        defer { securedNode.stop() }
        let plainClient = try GanglionClient(endpoint: plainNode.api, timeout: .seconds(30))
        defer { plainClient.close() }
        let securedClient = try GanglionClient(endpoint: securedNode.api, timeout: .seconds(30),
                                               credentials: CurveClientCredentials(keys: admin, serverKey: cluster.publicKey))
        defer { securedClient.close() }
        let plain = BenchRunner(client: plainClient, api: plainNode.api, workload: workload, dataDirectory: plainNode.directory)
        let secured = BenchRunner(client: securedClient, api: securedNode.api, workload: workload, dataDirectory: securedNode.directory)
        var figures: [Figure] = []
        for size in sizes {
            var produce = Figure(name: "produce \(size) B, events/s")
            var p50 = Figure(name: "e2e latency \(size) B, p50 µs"), p99 = Figure(name: "e2e latency \(size) B, p99 µs")
            // libzmq alone, messages the size of a produce batch: what CURVE itself costs here.
            let message = min(65_536, workload.batch * size)
            var floor = Figure(name: "libzmq alone, PUB→SUB of \(message) B messages (a batch of \(workload.batch) × \(size) B), messages/s")
            for run in 1...workload.runs {
                let count = UInt64(max(2_000, 256 << 20 / message))
                floor.plain.append(ganglion_c_pubsub_throughput_curve(message, count, 0))
                floor.secured.append(ganglion_c_pubsub_throughput_curve(message, count, 1))
                produce.plain.append(try await plain.measure(.produceInterval, size: size)[0])
                produce.secured.append(try await secured.measure(.produceInterval, size: size)[0])
                let plainLatency = try await plain.measure(.latency, size: size, withFloor: false)
                let securedLatency = try await secured.measure(.latency, size: size, withFloor: false)
                p50.plain.append(plainLatency[0])
                p99.plain.append(plainLatency[1])
                p50.secured.append(securedLatency[0])
                p99.secured.append(securedLatency[1])
                FileHandle.standardError.write(Data(("run \(run), \(size) B: produce \(Int(produce.plain.last!)) plain / \(Int(produce.secured.last!)) secured events/s; "
                    + "p50 \(Int(plainLatency[0])) / \(Int(securedLatency[0])) µs, p99 \(Int(plainLatency[1])) / \(Int(securedLatency[1])) µs\n").utf8))
            }
            figures += [floor, produce, p50, p99]
        }
        return figures
    }

    /// The report: each figure's runs and medians, and secured ÷ plain.
    static func lines(_ figures: [Figure], workload: BenchWorkload) -> [String] {
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        var lines = ["== ganglion bench --security: a plain node and a node with CurveZMQ + ACLs, interval fsync 100 ms, "
            + "\(workload.runs) run(s), \(workload.produceSeconds) s produce, \(workload.latencySeconds) s at \(workload.rate)/s latency =="]
        for figure in figures {
            let ratio = median(figure.secured) / max(median(figure.plain), 1)
            lines.append("\(figure.name): plain \(figure.plain.map { String(Int($0)) }.joined(separator: ", ")) | secured "
                + "\(figure.secured.map { String(Int($0)) }.joined(separator: ", ")) | medians \(Int(median(figure.plain))) / \(Int(median(figure.secured))) "
                + "(secured ÷ plain \(String(format: "%.2f", ratio)))")
        }
        return lines
    }
}
