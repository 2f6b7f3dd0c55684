import ClusterRuntime
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import ZeroMQ

/// A node and its agents in one process — what a user's own executable runs:
///
/// ```swift
/// var node = AgentNode()                      // ./data, ports 7400–7402
/// node.createTopic("payments", partitions: 4)
/// node.register(FraudAgent())
/// try await node.run()                        // until SIGTERM or SIGINT
/// ```
///
/// One ServiceGroup runs the node (API and PUB sockets, logs, groups), its HTTP port (`/health`,
/// `/metrics`, the registry's REST API, `POST /v1/agents/{type}/{key}`, HTTP ingest of
/// CloudEvents and webhooks) and the agents; SIGTERM
/// shuts them down in reverse order: agents first, then HTTP, then the node flushes and closes.
public struct AgentNode: Sendable {
    /// The node's settings.
    public var configuration: NodeConfiguration
    /// HTTP host.
    public var httpHost = "127.0.0.1"
    /// HTTP port (0: OS-chosen; written to `endpoints.json`).
    public var httpPort = 7402
    /// HTTP ingest: the body limit, the in-flight bound and the webhooks served.
    public var httpIngest = HTTPIngestSettings()
    /// Whether the agents' shards read and write the node's logs directly (``NodeShardIO``)
    /// instead of over the node protocol. Off by default: on the 2-core benchmark machine the
    /// protocol path, whose producer batches emitted events, is faster (`ganglion bench --agents`
    /// prints both).
    public var shardsOnNodeLogs = false
    /// With security on, the principal the agents act as: nil (the default) runs them as the
    /// node's own principal; credentials of another principal confine them to its ACLs.
    public var agentCredentials: CurveClientCredentials?
    private var topics: [(name: String, partitions: UInt32)] = []
    private var agents: [@Sendable (AgentHost) async throws -> Void] = []
    private var names: [String] = []

    /// A node with `configuration` (by default a cluster of one with its data in `./data`).
    public init(configuration: NodeConfiguration = NodeConfiguration()) { self.configuration = configuration }

    /// Creates `name` with `partitions` before the agents start, unless it exists.
    public mutating func createTopic(_ name: String, partitions: UInt32) { topics.append((name, partitions)) }

    /// Hosts `agent` on this node: its group takes the shards of every partition of its topic.
    public mutating func register<A: Agent>(_ agent: A) {
        agents.append { host in try await host.run(agent) }
        names.append(agent.name)
    }

    /// Names of the registered agent types.
    public var agentNames: [String] { names }

    /// Runs until SIGTERM or SIGINT, the task is cancelled, or an `extra` service finishes — each
    /// shuts the group down gracefully. With `bootstrapObservability`, logging goes to stderr and metrics to `/metrics`
    /// (bootstrapping is once per process: pass false when the caller did it).
    public func run(bootstrapObservability: Bool = true, extra: @escaping @Sendable (Node, Logger) -> [any Service] = { _, _ in [] }) async throws {
        let metrics = PrometheusCollectorRegistry()
        if bootstrapObservability {
            LoggingSystem.bootstrap(StreamLogHandler.standardError)
            var factory = PrometheusMetricsFactory(registry: metrics)
            factory.useNodeBuckets()
            MetricsSystem.bootstrap(factory)
        }
        let logger = Logger(label: "ganglion.node")
        let node = try Node(configuration: configuration, logger: logger)
        FileHandle.standardOutput.write(Data(
            "ganglion node \(configuration.nodeID): api \(node.endpoints.api), pub \(node.endpoints.pub), data \(configuration.dataDirectory)\n".utf8))
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: NodeService(node: node)),
            .init(service: NodeHTTPService(node: node, registry: metrics, host: httpHost, port: httpPort, ingest: httpIngest, logger: logger)),
        ]
        if !agents.isEmpty {
            services.append(.init(service: AgentsService(endpoint: node.endpoints.api, node: shardsOnNodeLogs ? node : nil, topics: topics, agents: agents, names: names, logger: logger,
                                                                credentials: agentCredentials ?? node.clientCredentials)))
        }
        services += extra(node, logger).map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) }
        var settings = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // A shutdown that hangs is cut short: services are cancelled after 10 s.
        settings.maximumGracefulShutdownDuration = .seconds(10)
        let group = ServiceGroup(configuration: settings)
        // Cancelling the caller's task shuts down gracefully too (agents leave their groups before
        // the node stops), as a signal would.
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }
}
