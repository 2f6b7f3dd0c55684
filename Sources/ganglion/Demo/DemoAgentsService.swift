import ClusterRuntime
import Foundation
import Ganglion
import Logging
import ServiceLifecycle

/// Runs the demo agents inside `ganglion node` (on by default; `--no-demo` leaves them out):
/// creates their topics when absent and hosts them until shutdown.
struct DemoAgentsService: Service {
    let node: Node
    let logger: Logger

    func run() async throws {
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        for (topic, partitions) in [("transactions", UInt32(3)), ("alerts", UInt32(1)), ("ci.pushes", UInt32(2)), ("ci.checks", UInt32(2)),
                                    ("ci.statuses", UInt32(1)), ("docs.events", UInt32(2)), ("docs.steps", UInt32(2)), ("docs.outcomes", UInt32(1)),
                                    ("tasks", UInt32(2)), ("tasks.completed", UInt32(2)), ("tasks.verified", UInt32(1))] {
            do { try await client.createTopic(topic, partitions: partitions) } catch let error as GanglionError where error.code == .topicExists {}
        }
        let host = AgentHost(client: client)
        let agents = [
            keepRunning(try FraudDetectionAgent(), on: host),
            keepRunning(CICheckAgent(check: "tests"), on: host),
            keepRunning(CICheckAgent(check: "security"), on: host),
            keepRunning(CICheckAgent(check: "lint"), on: host),
            keepRunning(CIAggregatorAgent(), on: host),
            keepRunning(DocumentSagaAgent(), on: host),
            keepRunning(DocumentWorkerAgent(), on: host),
            keepRunning(TaskWorkerAgent(), on: host),
            keepRunning(TaskVerifierAgent(), on: host),
        ]
        logger.info("demo agents running: fraud-detection (transactions → alerts), ci-tests, ci-security, ci-lint, ci-aggregator (ci.pushes → ci.statuses), doc-saga and doc-worker (docs.events → docs.outcomes), task-worker and task-verifier (tasks → tasks.verified)")
        try? await gracefulShutdown()
        for agent in agents { agent.cancel() }
        for agent in agents { _ = await agent.result }
    }

    /// Runs `agent` until cancelled; a failed host (e.g. the node was briefly unreachable) is
    /// restarted and its shards rebuild from their changelogs.
    private func keepRunning<A: Agent>(_ agent: A, on host: AgentHost) -> Task<Void, Never> {
        let logger = self.logger
        return Task {
            while !Task.isCancelled {
                do {
                    try await host.run(agent)
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("demo agent \(agent.name) stopped: \(error); restarting in 1 s")
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}
