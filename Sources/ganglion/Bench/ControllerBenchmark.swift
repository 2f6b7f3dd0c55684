import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire

/// `ganglion bench --controller`: metadata write latency — topic creations and schema
/// registrations, one at a time — through a quorum of three controller voters (node processes
/// on loopback, each fsyncing before it answers), sent to the leader and to a follower (which
/// forwards), beside the same writes on a cluster of one in the same run.
struct ControllerBenchmark {
    /// Writes of each kind per setup.
    let writes: Int

    /// Runs the measurement and returns the report's lines.
    func run() async throws -> [String] {
        var lines: [String] = []
        let single = try BenchNodeProcess(fsync: "batch", extra: ["--no-demo"])
        defer { single.stop() }
        let baseline = try await measure(endpoint: single.api, label: "a cluster of one")
        lines += baseline.lines

        let ports = try freeBenchPorts(3)
        let voters = ports.enumerated().map { "v\($0.offset + 1)@127.0.0.1:\($0.element)" }.joined(separator: ",")
        var nodes: [BenchNodeProcess] = []
        defer { nodes.forEach { $0.stop() } }
        for (index, port) in ports.enumerated() {
            nodes.append(try BenchNodeProcess(fsync: "batch", api: "tcp://127.0.0.1:\(port)",
                                              extra: ["--node-id", "v\(index + 1)", "--voters", voters, "--no-demo"]))
        }
        let leader = try await Self.leader(of: ports)
        let follower = ports.first { $0 != leader }!
        let viaLeader = try await measure(endpoint: "tcp://127.0.0.1:\(leader)", label: "3 voters, sent to the leader")
        let viaFollower = try await measure(endpoint: "tcp://127.0.0.1:\(follower)", label: "3 voters, sent to a follower (forwarded)")
        lines += viaLeader.lines + viaFollower.lines
        for (name, figures) in [("leader", viaLeader), ("follower", viaFollower)] {
            lines.append(String(format: "ratio to a cluster of one (%@): topic create p50 %.2f×, p99 %.2f×; schema register p50 %.2f×, p99 %.2f×",
                                name, figures.create.p50 / baseline.create.p50, figures.create.p99 / baseline.create.p99,
                                figures.register.p50 / baseline.register.p50, figures.register.p99 / baseline.register.p99))
        }
        return lines
    }

    /// Percentiles of one kind of write, in ms.
    struct Figures {
        var p50: Double
        var p99: Double
        init(_ samples: [Double]) {
            let sorted = samples.sorted()
            p50 = sorted[max(0, Int((0.50 * Double(sorted.count)).rounded(.up)) - 1)]
            p99 = sorted[max(0, Int((0.99 * Double(sorted.count)).rounded(.up)) - 1)]
        }
    }

    private func measure(endpoint: String, label: String) async throws -> (create: Figures, register: Figures, lines: [String]) {
        let client = try GanglionClient(endpoint: endpoint, timeout: .seconds(10))
        defer { client.close() }
        let run = UUID().uuidString.prefix(8).lowercased()
        // Warm-up: the connection, the forwarding path and the registry's compiler.
        _ = try await client.createTopic("warm-\(run)", partitions: 1)
        _ = try await client.registerSchema(subject: "warm-\(run)", schema: Self.schema(0))
        var creates: [Double] = [], registers: [Double] = []
        for index in 0..<writes {
            let started = ContinuousClock.now
            _ = try await client.createTopic("bench-\(run)-\(index)", partitions: 1)
            creates.append(Self.milliseconds(ContinuousClock.now - started))
        }
        for index in 0..<writes {
            let started = ContinuousClock.now
            _ = try await client.registerSchema(subject: "bench-\(run)-\(index)", schema: Self.schema(index + 1))
            registers.append(Self.milliseconds(ContinuousClock.now - started))
        }
        let create = Figures(creates), register = Figures(registers)
        return (create, register, [
            String(format: "%@: topic create p50 %.2f ms, p99 %.2f ms; schema register p50 %.2f ms, p99 %.2f ms (%d each)",
                   label, create.p50, create.p99, register.p50, register.p99, writes),
        ])
    }

    private static func schema(_ index: Int) -> String {
        "syntax = \"proto3\";\npackage bench;\nmessage Reading\(index) { string device = 1; double value = 2; int64 at = 3; }\n"
    }

    private static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
    }

    /// The port of the voter every voter names as leader (waits up to 20 s).
    private static func leader(of ports: [Int]) async throws -> Int {
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        while ContinuousClock.now < deadline {
            var leaders: Set<String> = []
            for port in ports {
                let client = try GanglionClient(endpoint: "tcp://127.0.0.1:\(port)", timeout: .seconds(2))
                leaders.insert((try? await client.clusterStatus())?.controller.leader ?? "")
                client.close()
            }
            if leaders.count == 1, let leader = leaders.first, leader.hasPrefix("v"), let index = Int(leader.dropFirst()) {
                return ports[index - 1]
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw GanglionError(code: .timeout, message: "the three voters did not agree on a leader within 20 s")
    }
}
