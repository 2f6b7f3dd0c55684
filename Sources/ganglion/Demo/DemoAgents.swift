import Ganglion

/// The demo agents `ganglion node` hosts by default (`--no-demo` leaves them out): fraud-detection
/// (transactions → alerts), ci-tests, ci-security, ci-lint, ci-aggregator (ci.pushes →
/// ci.statuses), doc-saga and doc-worker (docs.events → docs.outcomes), task-worker and
/// task-verifier (tasks → tasks.verified), with their topics.
enum DemoAgents {
    /// Registers the demo agents and their topics on `node`; `inputPartitions`, when given, is
    /// the partition count of every agent's input topic (their shards), the outcome topics
    /// keeping one partition (read in order).
    static func register(on node: inout AgentNode, inputPartitions: UInt32? = nil) throws {
        for (topic, partitions) in [("transactions", UInt32(3)), ("alerts", 1), ("ci.pushes", 2), ("ci.checks", 2), ("ci.statuses", 1),
                                    ("docs.events", 2), ("docs.steps", 2), ("docs.outcomes", 1), ("tasks", 2), ("tasks.completed", 2),
                                    ("tasks.verified", 1)] {
            node.createTopic(topic, partitions: partitions > 1 ? inputPartitions ?? partitions : partitions)
        }
        node.register(try FraudDetectionAgent())
        for check in ["tests", "security", "lint"] { node.register(CICheckAgent(check: check)) }
        node.register(CIAggregatorAgent())
        node.register(DocumentSagaAgent())
        node.register(DocumentWorkerAgent())
        node.register(TaskWorkerAgent())
        node.register(TaskVerifierAgent())
    }
}
