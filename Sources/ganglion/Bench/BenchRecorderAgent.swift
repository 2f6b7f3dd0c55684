import Ganglion

/// Notes each handled event's partition and the host that handled it (the cluster benchmarks'
/// record of where shards ran).
protocol HandledNotes: Sendable {
    /// Notes an event of `partition` handled on host `host`.
    func note(_ partition: UInt32, host: Int)
}

/// The cluster benchmarks' agent: counts each key's events (so every key of a shard has state)
/// and notes each handled event in `handled`.
struct BenchRecorderAgent<Notes: HandledNotes>: Agent {
    /// A key's count of events.
    struct State: Codable, Sendable { var count = 0 }
    let name: String
    let subscription: AgentSubscription
    /// The host running this instance.
    let host: Int
    let handled: Notes

    func handle(_ context: AgentContext<State>) async throws {
        context.state = State(count: (context.state?.count ?? 0) + 1)
        handled.note(context.partition, host: host)
    }
}
