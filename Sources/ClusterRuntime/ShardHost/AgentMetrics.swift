import Metrics

/// The agent runtime's swift-metrics counters.
enum AgentMetrics {
    /// Events handled by `agent` (a shard keeps it and counts each committed batch).
    static func handledCounter(agent: String) -> Counter {
        Counter(label: "ganglion_agent_events_handled_total", dimensions: [("agent", agent)])
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

    /// A shard restored its state from its changelog before taking events (it started here: a
    /// start, a restart, or a partition that moved to this node): how long it took, and how much
    /// it read.
    static func restored(agent: String, seconds: Double, records: Int, bytes: Int) {
        Timer(label: "ganglion_agent_restore_seconds", dimensions: [("agent", agent)]).recordNanoseconds(Int64(seconds * 1e9))
        Counter(label: "ganglion_agent_restored_records_total", dimensions: [("agent", agent)]).increment(by: records)
        Counter(label: "ganglion_agent_restored_bytes_total", dimensions: [("agent", agent)]).increment(by: bytes)
    }

    /// A partition of `agent` assigned to this host got a working shard: the seconds from the
    /// assignment to its first finished input, or to its shard being ready when no event waited
    /// (``AgentShard/measureHandoff(since:eventsWaiting:)``).
    static func handoff(agent: String, seconds: Double) {
        Timer(label: "ganglion_agent_handoff_seconds", dimensions: [("agent", agent)]).recordNanoseconds(Int64(seconds * 1e9))
    }

    /// The shards of `agent` this host runs now.
    static func shards(agent: String, _ count: Int) {
        Gauge(label: "ganglion_agent_shards", dimensions: [("agent", agent)]).record(count)
    }
}
