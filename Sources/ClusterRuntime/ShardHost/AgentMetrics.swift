import Metrics

/// The agent runtime's swift-metrics counters.
enum AgentMetrics {
    static func handled(agent: String) {
        Counter(label: "ganglion_agent_events_handled_total", dimensions: [("agent", agent)]).increment()
    }

    static func retried(agent: String) {
        Counter(label: "ganglion_agent_retries_total", dimensions: [("agent", agent)]).increment()
    }

    static func deadLettered(agent: String) {
        Counter(label: "ganglion_agent_dead_letters_total", dimensions: [("agent", agent)]).increment()
    }

    /// An attempt given up at its deadline plus the grace, or by a drain out of time.
    static func abandoned(agent: String) {
        Counter(label: "ganglion_agent_attempts_abandoned_total", dimensions: [("agent", agent)]).increment()
    }

    static func passivated(agent: String) {
        Counter(label: "ganglion_agent_entities_passivated_total", dimensions: [("agent", agent)]).increment()
    }

    static func reloaded(agent: String) {
        Counter(label: "ganglion_agent_entities_reloaded_total", dimensions: [("agent", agent)]).increment()
    }
}
