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
        for (topic, partitions) in [("transactions", UInt32(3)), ("alerts", UInt32(1))] {
            do { try await client.createTopic(topic, partitions: partitions) } catch let error as GanglionError where error.code == .topicExists {}
        }
        let host = AgentHost(client: client)
        let agent = try FraudDetectionAgent()
        let logger = self.logger
        // A failed host (e.g. the node was briefly unreachable) is restarted; its shards rebuild
        // from their changelogs.
        let agents = Task {
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
        logger.info("demo agents running: fraud-detection on topic transactions (alerts on topic alerts)")
        try? await gracefulShutdown()
        agents.cancel()
        _ = await agents.result
    }
}
