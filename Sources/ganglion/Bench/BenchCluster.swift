import Foundation
import Ganglion
import GanglionWire

/// Three `ganglion node` processes on this machine forming one cluster (all three controller
/// voters, named `<prefix>1…3`, no demo agents), for the benchmarks that need a cluster; stopped
/// (and their data removed) by ``stop()``.
struct BenchCluster {
    let ports: [Int]
    let prefix: String
    let fsync: String
    let extra: [String]
    private(set) var nodes: [BenchNodeProcess] = []

    /// Starts the three nodes with fsync policy `fsync` and `extra` arguments each.
    init(prefix: String, fsync: String, extra: [String] = []) throws {
        ports = try freeBenchPorts(3)
        self.prefix = prefix
        self.fsync = fsync
        self.extra = extra
        for index in 0..<3 {
            do {
                nodes.append(try BenchNodeProcess(fsync: fsync, api: "tcp://127.0.0.1:\(ports[index])", extra: arguments(index)))
            } catch {
                stop()
                throw error
            }
        }
    }

    /// Node `index`'s arguments: its id, the voters, no demo agents, and `extra`.
    private func arguments(_ index: Int) -> [String] {
        let voters = ports.enumerated().map { "\(prefix)\($0.offset + 1)@127.0.0.1:\($0.element)" }.joined(separator: ",")
        return ["--node-id", "\(prefix)\(index + 1)", "--voters", voters, "--no-demo"] + extra
    }

    /// Starts node `index` again on its data and port (after ``BenchNodeProcess/kill()``).
    mutating func restart(_ index: Int) throws {
        nodes[index] = try BenchNodeProcess(fsync: fsync, api: "tcp://127.0.0.1:\(ports[index])", extra: arguments(index),
                                            directory: nodes[index].directory)
    }

    /// Waits (up to `seconds`) until the cluster's status, asked through `client`, satisfies `ready`.
    static func wait(_ client: GanglionClient, seconds: Int = 60, until ready: (Ganglion_V1_ClusterStatusResponse) -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let status = try? await client.clusterStatus(timeout: .seconds(2)), ready(status) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Stops every node and removes its data.
    func stop() { nodes.forEach { $0.stop() } }
}
