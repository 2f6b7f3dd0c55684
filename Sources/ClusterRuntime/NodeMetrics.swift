import GanglionWire
import Metrics
import Synchronization

/// The node's swift-metrics instruments (exported by whatever backend the executable
/// bootstrapped; `ganglion node` uses Prometheus on `/metrics`).
enum NodeMetrics {
    /// Records and bytes appended to a topic.
    static func produced(topic: String, records: Int, bytes: Int) {
        let counters = producedCounters.withLock { cache in
            if let made = cache[topic] { return made }
            let made = (records: Counter(label: "ganglion_produced_records_total", dimensions: [("topic", topic)]),
                        bytes: Counter(label: "ganglion_produced_bytes_total", dimensions: [("topic", topic)]))
            cache[topic] = made
            return made
        }
        counters.records.increment(by: records)
        counters.bytes.increment(by: bytes)
    }

    /// Each topic's produce counters, made once: making a counter asks the backend's registry
    /// (a lock, label checks and a lookup), which cost the node's socket thread about half a
    /// microsecond per produce. Made after the backend is bootstrapped (on the first produce).
    private static let producedCounters = Mutex<[String: (records: Counter, bytes: Counter)]>([:])

    /// The histogram of a produce's time in the node, from its receipt on the node's socket
    /// thread to its batch going out on the stream (decode, checks, append, publish): the node's
    /// stage of an event's end-to-end latency, as Kafka's request local time. Made once per node
    /// (after the metrics backend is bootstrapped); `ganglion node` gives it microsecond buckets.
    static func produceLocalTime() -> Timer { Timer(label: produceLocalTimeLabel) }

    /// The label of ``produceLocalTime()``.
    static let produceLocalTimeLabel = "ganglion_produce_local_seconds"

    /// A request refused with `code`.
    static func rejected(_ code: Ganglion_V1_ErrorCode) {
        Counter(label: "ganglion_rejected_requests_total", dimensions: [("code", "\(code)")]).increment()
    }

    /// A produce refused because the client's window was full.
    static func busy() {
        Counter(label: "ganglion_rejected_requests_total", dimensions: [("code", "busy")]).increment()
    }

    /// An HTTP ingest request answered: which endpoint (`events`, or the webhook's name) and the
    /// outcome (`accepted`, `duplicate`, or the refusal's code).
    static func httpIngest(endpoint: String, outcome: String) {
        Counter(label: "ganglion_http_ingest_requests_total", dimensions: [("endpoint", endpoint), ("outcome", outcome)]).increment()
    }

    /// Events refused by their topic's schema validation, by reason.
    static func schemaRejected(topic: String, reason: String, events: Int) {
        Counter(label: "ganglion_schema_rejected_events_total", dimensions: [("topic", topic), ("reason", reason)]).increment(by: events)
    }

    /// A consumer group got a new target assignment.
    /// A group's rebalance finished, after `seconds` (its new target to every member holding its part).
    static func rebalanceFinished(group: String, seconds: Double) {
        Timer(label: "ganglion_group_rebalance_seconds", dimensions: [("group", group)]).recordNanoseconds(Int64(seconds * 1e9))
    }

    static func rebalanced(group: String) {
        Counter(label: "ganglion_group_rebalances_total", dimensions: [("group", group)]).increment()
    }

    /// How far a group's committed offset is behind a partition's high watermark.
    static func lag(group: String, partition: String, _ lag: Int64) {
        Gauge(label: "ganglion_group_lag_records", dimensions: [("group", group), ("partition", partition)]).record(lag)
    }

    /// This node became the leader of a partition of `topic`.
    static func leaderElected(topic: String) {
        Counter(label: "ganglion_leader_elections_total", dimensions: [("topic", topic)]).increment()
    }

    /// A leader's ISR change was recorded (a shrink, or an expansion).
    static func isrChanged(topic: String, shrink: Bool) {
        Counter(label: shrink ? "ganglion_isr_shrinks_total" : "ganglion_isr_expands_total", dimensions: [("topic", topic)]).increment()
    }

    /// Partitions this node leads with fewer in-sync replicas than replicas.
    static func underReplicated(_ count: Int) {
        Gauge(label: "ganglion_under_replicated_partitions").record(count)
    }

    /// How many records a follower is behind its leader's log end.
    static func replicationLag(partition: String, follower: String, _ lag: Int64) {
        Gauge(label: "ganglion_replication_lag_records", dimensions: [("partition", partition), ("follower", follower)]).record(lag)
    }

    /// A follower taking its leader's replication stream went back to fetching: a batch
    /// missed (`gap`) or the stream silent (`silence`).
    static func replicationStreamFallback(reason: String) {
        Counter(label: "ganglion_replication_stream_fallbacks_total", dimensions: [("reason", reason)]).increment()
    }

    /// The controller fenced a node whose session expired.
    static func nodeFenced() {
        Counter(label: "ganglion_nodes_fenced_total").increment()
    }

    /// This node found its controller session lapsed and stopped leading its partitions.
    static func sessionLost() {
        Counter(label: "ganglion_controller_sessions_lost_total").increment()
    }
}
