import ClusterCore
import Foundation
import Ganglion
import GanglionWire

/// `ganglion bench --agent-scaling`: scaling agents by adding nodes. A cluster of three node
/// processes on this machine; an agent whose handler waits 20 ms (a simulated model call) on a
/// topic of 24 partitions, hosted on 1, 2 and 3 of the nodes (one agent host per node, each with
/// the same budget of handlers in flight — what one node's agents may have outstanding); the
/// events/s of each, and their ratio to one node. All nodes share this machine's cores, so the
/// agent is latency-bound on purpose: that is the case adding nodes is for.
struct AgentScalingBenchmark {
    /// Events per measurement.
    let events: Int
    /// Handlers in flight per node.
    let budget: Int

    /// Counts per key after waiting like a model call.
    struct ModelCallAgent: Agent {
        struct State: Codable, Sendable { var count = 0 }
        let name: String
        let subscription: AgentSubscription

        func handle(_ context: AgentContext<State>) async throws {
            try await Task.sleep(for: .milliseconds(20))
            context.state = State(count: (context.state?.count ?? 0) + 1)
        }
    }

    /// Events/s with 1, 2 and 3 nodes hosting the agent.
    func run() async throws -> [(nodes: Int, eventsPerSecond: Double)] {
        let cluster = try BenchCluster(prefix: "s", fsync: "interval")
        defer { cluster.stop() }
        let nodes = cluster.nodes
        let client = try GanglionClient(endpoint: nodes[0].api, timeout: .seconds(20))
        defer { client.close() }
        // Every node registered and the groups' coordinators placed.
        try await BenchCluster.wait(client) { $0.topics.contains { $0.name == GroupPlacement.offsetsTopic } }
        var results: [(Int, Double)] = []
        for count in 1...3 {
            results.append((count, try await measure(client, nodes: Array(nodes.prefix(count)))))
        }
        return results
    }

    /// One measurement: a fresh topic and agent type hosted on `nodes`, the group stable before
    /// the events are produced; events/s until the group committed them all.
    private func measure(_ client: GanglionClient, nodes: [BenchNodeProcess]) async throws -> Double {
        let run = UUID().uuidString.prefix(6).lowercased()
        let topic = "bench-scale-\(run)", name = "bench-scale-agent-\(run)"
        _ = try await client.createTopic(topic, partitions: 24)
        var hosts: [Task<Void, any Error>] = []
        defer { hosts.forEach { $0.cancel() } }
        for node in nodes {
            let endpoint = node.api, budget = self.budget
            let agent = ModelCallAgent(name: name, subscription: try AgentSubscription(topic: topic))
            hosts.append(Task { try await AgentHost(client: try GanglionClient(endpoint: endpoint, timeout: .seconds(20)), maxConcurrentHandlers: budget).run(agent) })
        }
        // Measured once every host holds its share (no rebalance inside the measurement).
        let settle = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < settle {
            if let group = try? await client.describeGroup(name), group.members.count == nodes.count,
               group.members.allSatisfy({ $0.state == "stable" }), group.members.reduce(0, { $0 + $1.assigned.flatMap(\.partitions).count }) == 24 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let producer = try await Producer(client: client)
        let start = ContinuousClock.now
        for index in 0..<events {
            var event = EventEnvelope()
            event.id = "s-\(index)"
            event.type = "request"
            event.key = Data("k\(index % 600)".utf8)
            try await producer.enqueue(topic: topic, key: Array(event.key), value: try event.serializedBytes())
        }
        try await producer.flush()
        while try await client.describeGroup(name).lag.reduce(Int64(0), { $0 + $1.committedOffset }) < Int64(events) {
            try await Task.sleep(for: .milliseconds(20))
        }
        return Double(events) / ((ContinuousClock.now - start) / .seconds(1))
    }

    /// The figures as printed.
    static func lines(_ results: [(nodes: Int, eventsPerSecond: Double)], budget: Int) -> [String] {
        let one = results.first?.eventsPerSecond ?? 1
        var lines = ["== ganglion bench --agent-scaling: a 20 ms handler on 24 partitions, \(budget) handlers in flight per node, 3 node processes on this machine =="]
        for (nodes, rate) in results {
            lines.append("  \(nodes) node(s): \(Int(rate)) events/s (\(String(format: "%.2f", rate / one))× one node)")
        }
        if let three = results.first(where: { $0.nodes == 3 }) {
            lines.append("  3 nodes / 1 node: \(String(format: "%.2f", three.eventsPerSecond / one))× (goal ≥ 2.5×)")
        }
        return lines
    }
}
