import ClusterCore
import ClusterRuntime
import Foundation
import Logging
import ServiceLifecycle
import ZeroMQ

/// Hosts agent types against a node as a `Service`: creates the topics they need when absent,
/// then runs each agent type until graceful shutdown; a host that fails (the node was briefly
/// unreachable, its changelog could not be written) is restarted and its shards rebuild from
/// their changelogs.
public struct AgentsService: Service {
    /// The node's request endpoint.
    public let endpoint: String
    /// The node, when it runs in this process: the shards then read and write its logs directly.
    let node: Node?
    /// Topics created when absent before the agents start: name and partitions.
    public let topics: [(name: String, partitions: UInt32)]
    let agents: [@Sendable (AgentHost) async throws -> Void]
    let names: [String]
    let logger: Logger
    /// How long the service's client waits for an answer from the node.
    let clientTimeout: Duration
    /// What the service's client presents when security is on (agents run as the node's principal).
    let credentials: CurveClientCredentials?

    /// A service hosting `agents` (see ``AgentNode/register(_:)``) on the node at `endpoint`.
    /// With security on, `credentials` are what its client presents (the node's own).
    init(endpoint: String, node: Node? = nil, topics: [(name: String, partitions: UInt32)], agents: [@Sendable (AgentHost) async throws -> Void],
         names: [String], logger: Logger, clientTimeout: Duration = .seconds(10), credentials: CurveClientCredentials? = nil) {
        self.clientTimeout = clientTimeout
        self.credentials = credentials
        self.endpoint = endpoint
        self.node = node
        self.topics = topics
        self.agents = agents
        self.names = names
        self.logger = logger
    }

    /// Runs until graceful shutdown.
    public func run() async throws {
        let client = try GanglionClient(endpoint: endpoint, timeout: clientTimeout, credentials: credentials)
        defer { client.close() }
        try await awaitClusterGroups(client)
        for topic in topics {
            // Until made (or the node stops): a cluster without a controller leader for a while
            // (an election, a node still joining) must not stop the node with its agents.
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await client.createTopic(topic.name, partitions: topic.partitions)
                    break
                } catch let error as GanglionError where error.code == .topicExists {
                    break
                } catch {
                    logger.warning("agents cannot make topic \(topic.name) yet: \(error); trying again in 1 s")
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
        guard !Task.isCancelled && !Task.isShuttingDownGracefully else { return }
        var shardIO: (@Sendable (String) -> any ShardIO)?
        if let node = self.node {
            shardIO = { changelogTopic in NodeShardIO(node: node, changelogTopic: changelogTopic) }
        }
        let host = AgentHost(client: client, shardIO: shardIO)
        let running = zip(agents, names).map { run, name in keepRunning(name) { try await run(host) } }
        logger.info("agents running: \(names.joined(separator: ", "))")
        try? await gracefulShutdown()
        for task in running { task.cancel() }
        // In a graceful shutdown each host drains its shards, commits and leaves its groups before
        // this returns (the node stops after this service). Cancelled instead, as the service
        // group does when another service failed or a graceful shutdown ran out of time, this
        // returns at once: the node may have stopped already, and the hosts' requests to it would
        // each wait out the client's timeout (20 s for one agent type). What they did not finish
        // is recovered as after a crash, from the changelogs and the committed offsets.
        let ended = LoopWake()
        let watcher = Task {
            for task in running { _ = await task.result }
            ended.signal()
        }
        await ended.wait(upTo: .seconds(24 * 3600))
        watcher.cancel()
    }

    /// On a cluster, waits until the cluster has made `__consumer_offsets` — it does once enough
    /// voters have registered to replicate it — so the agents' topics, made next, get the
    /// cluster's replication factor rather than that of the first node up, and their groups have
    /// coordinators. A cluster of one goes on at once.
    private func awaitClusterGroups(_ client: GanglionClient) async throws {
        var waited = false
        while !Task.isCancelled {
            guard let status = try? await client.clusterStatus(), status.controller.voters.count > 1,
                  !status.topics.contains(where: { $0.name == GroupPlacement.offsetsTopic }) else { return }
            if !waited { logger.info("agents wait for the cluster's voters to register (it then makes \(GroupPlacement.offsetsTopic))") }
            waited = true
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func keepRunning(_ name: String, _ body: @escaping @Sendable () async throws -> Void) -> Task<Void, Never> {
        let logger = self.logger
        return Task {
            while !Task.isCancelled {
                do {
                    try await body()
                } catch is CancellationError {
                    return
                } catch {
                    if Task.isCancelled { return }
                    logger.error("agent \(name) stopped: \(error); restarting in 1 s")
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}
