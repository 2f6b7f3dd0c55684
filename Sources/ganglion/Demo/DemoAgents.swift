import Ganglion

/// The demo agents `ganglion node` hosts by default (`--no-demo` leaves them out): fraud-detection
/// (transactions → alerts), ci-tests, ci-security, ci-lint, ci-aggregator (ci.pushes →
/// ci.statuses), doc-saga and doc-worker (docs.events → docs.outcomes), task-worker and
/// task-verifier (tasks → tasks.verified), with their topics.
enum DemoAgents {
    static func register(on node: inout AgentNode) throws {
        for (topic, partitions) in [("transactions", UInt32(3)), ("alerts", 1), ("ci.pushes", 2), ("ci.checks", 2), ("ci.statuses", 1),
                                    ("docs.events", 2), ("docs.steps", 2), ("docs.outcomes", 1), ("tasks", 2), ("tasks.completed", 2),
                                    ("tasks.verified", 1)] {
            node.createTopic(topic, partitions: partitions)
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
