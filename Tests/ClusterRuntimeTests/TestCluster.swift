import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import XCTest

/// Loopback ports the OS chose, free when this returns (held together while chosen, so they differ).
func freeLoopbackPorts(_ count: Int) throws -> [Int] {
    var descriptors: [Int32] = []
    defer { descriptors.forEach { close($0) } }
    var ports: [Int] = []
    for _ in 0..<count {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        descriptors.append(descriptor)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else { throw GanglionError(code: .internal, message: "could not choose a loopback port: errno \(errno)") }
        ports.append(Int(UInt16(bigEndian: address.sin_port)))
    }
    return ports
}

/// A cluster of nodes in this process over loopback: `voters` controller voters and `observers`
/// observers, each with its own data directory under `root`; a node can be stopped and started
/// again with the same identity, ports and data.
final class TestCluster: @unchecked Sendable {
    let root: String
    let ids: [String]
    let voterIDs: [String]
    private let ports: [String: (api: Int, pub: Int)]
    private(set) var nodes: [String: Node] = [:]
    private let change: (inout NodeConfiguration) -> Void

    init(voters: Int, observers: Int = 0, root: String, change: @escaping (inout NodeConfiguration) -> Void = { _ in }) throws {
        self.root = root
        self.change = change
        voterIDs = (1...voters).map { "v\($0)" }
        ids = voterIDs + (0..<observers).map { "o\($0 + 1)" }
        let chosen = try freeLoopbackPorts(ids.count * 2)
        var ports: [String: (Int, Int)] = [:]
        for (index, id) in ids.enumerated() { ports[id] = (chosen[2 * index], chosen[2 * index + 1]) }
        self.ports = ports
        for id in ids { try start(id) }
    }

    /// The voters list every node is given.
    var votersList: [VoterAddress] { voterIDs.map { VoterAddress(id: $0, api: api($0)) } }

    /// A node's request endpoint.
    func api(_ id: String) -> String { "tcp://127.0.0.1:\(ports[id]!.api)" }

    /// Starts (or restarts) a node with its identity, ports and data.
    func start(_ id: String) throws {
        var configuration = NodeConfiguration()
        configuration.nodeID = id
        configuration.dataDirectory = root + "/" + id
        configuration.apiEndpoint = api(id)
        configuration.pubEndpoint = "tcp://127.0.0.1:\(ports[id]!.pub)"
        configuration.controller.voters = votersList
        // GANGLION_TEST_REPLICATION_TRANSPORT=pub runs every cluster test with followers on the
        // leaders' replication streams (a test's own `change` may still choose).
        if let transport = ProcessInfo.processInfo.environment["GANGLION_TEST_REPLICATION_TRANSPORT"].flatMap(ReplicationTransport.init(rawValue:)) {
            configuration.replicationTransport = transport
        }
        change(&configuration)
        nodes[id] = try Node(configuration: configuration)
    }

    /// Stops a node (its data stays).
    func stop(_ id: String) {
        nodes.removeValue(forKey: id)?.stop()
    }

    /// Stops every node.
    /// Three voters with short node sessions (1.5 s) whose groups can be coordinated: started,
    /// agreed on a leader, and `__consumer_offsets` placed on three replicas with a leader each.
    static func withGroups(root: String, change: @escaping (inout NodeConfiguration) -> Void = { _ in }) async throws -> TestCluster {
        let cluster = try TestCluster(voters: 3, root: root) { configuration in
            configuration.controller.nodeSessionTimeout = .milliseconds(1_500)
            configuration.controller.nodeHeartbeat = .milliseconds(300)
            change(&configuration)
        }
        _ = try await cluster.agreedLeader()
        try await cluster.waitForAll("__consumer_offsets placed on three replicas") { node in
            let states = node.metadataState.partitions[GroupPlacement.offsetsTopic] ?? []
            return states.count == Int(GroupPlacement.offsetsPartitions) && states.allSatisfy { $0.replicas.count == 3 && $0.leader != nil }
        }
        return cluster
    }

    /// Stops a node without telling the cluster (as kill -9 would; its data stays).
    func kill(_ id: String) {
        nodes.removeValue(forKey: id)?.stop(graceful: false)
    }

    func stopAll() { for id in Array(nodes.keys) { stop(id) } }

    /// The leader every running node agrees on, waiting up to `seconds`.
    func agreedLeader(seconds: Double = 15) async throws -> String {
        let deadline = Date(timeIntervalSinceNow: seconds)
        var views: [String: String] = [:]
        while Date() < deadline {
            views = nodes.mapValues { node in node.controllerView.leader.map { "\($0)@\(node.controllerView.term)" } ?? "none" }
            let distinct = Set(views.values)
            if distinct.count == 1, let only = distinct.first, only != "none", nodes.values.filter({ $0.controllerView.isLeader }).count == 1 {
                return String(only.split(separator: "@")[0])
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw GanglionError(code: .timeout, message: "the nodes did not agree on one leader within \(seconds) s: \(views)")
    }

    /// Waits until `condition` holds on every running node.
    func waitForAll(seconds: Double = 15, _ what: String, _ condition: (Node) -> Bool) async throws {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if nodes.values.allSatisfy(condition) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        let failing = nodes.filter { !condition($0.value) }.keys.sorted()
        throw GanglionError(code: .timeout, message: "\(what) did not hold on \(failing) within \(seconds) s")
    }
}
