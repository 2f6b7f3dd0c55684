import ClusterCore
import EventLog
import Foundation
import GanglionWire

/// One partition of an agent type's input, hosted here: the entities of its keys, rebuilt from
/// the shard's compacted changelog partition, and every handled event made durable as one
/// changelog batch (state, handled id, outbox, offset) before its emitted events are forwarded.
actor AgentShard<A: Agent> {
    let agent: A
    let client: GanglionClient
    let producer: Producer
    let changelogTopic: String
    let partition: UInt32
    private(set) var changelog = ShardChangelog()
    private var random = SystemRandomNumberGenerator()

    init(agent: A, client: GanglionClient, producer: Producer, changelogTopic: String, partition: UInt32) {
        self.agent = agent
        self.client = client
        self.producer = producer
        self.changelogTopic = changelogTopic
        self.partition = partition
    }

    /// The next input offset to consume: every event below it is handled.
    var nextOffset: Int64 { changelog.nextOffset }

    /// Replays the changelog partition, then forwards what a crash left in the outbox.
    func recover() async throws {
        var offset: Int64 = 0
        while true {
            let (response, bytes) = try await client.fetch(topic: changelogTopic, partition: partition, offset: offset)
            let records = try PartitionStream.records(in: bytes, base: nil)
            changelog.apply(records.map { ShardChangelog.Record(key: $0.key ?? [], value: $0.value) })
            if response.nextOffset >= response.highWatermark || records.isEmpty { break }
            offset = response.nextOffset
        }
        try await forwardOutbox()
    }

    /// Handles one delivered input record (in offset order; records already handled are skipped).
    func process(_ delivered: DeliveredRecord) async throws {
        let offset = delivered.record.offset
        guard offset >= changelog.nextOffset else { return }
        guard let value = delivered.record.value, let event = try? EventEnvelope(serializedBytes: value), !event.id.isEmpty else {
            try await deadLetter(raw: delivered.record.value ?? [], id: "\(delivered.topic)-\(partition)-\(offset)", key: "_", offset: offset,
                                 error: "the record is not an event envelope", attempts: 0)
            return
        }
        let key = event.key.isEmpty ? "_" : String(decoding: event.key, as: UTF8.self)
        // Filtered out, or a redelivery of an event already handled: only the offset moves (in
        // memory; the next durable batch carries it, and a replay filters the same way).
        if !accepts(event) || changelog.outcome(ofHandled: event.id, key: key) != nil {
            changelog.apply(changelog.records(skipping: offset))
            return
        }
        let previous = changelog.states[key]
        var attempt = 1
        while true {
            let state = previous.flatMap { try? JSONDecoder().decode(A.State.self, from: Data($0)) }
            let context = AgentContext<A.State>(agentName: agent.name, event: event, key: key, partition: partition, offset: offset,
                                                attempt: attempt, state: state)
            do {
                try await runWithDeadline(context)
                let newState: [UInt8]?? = try context.state.map { .some(Array(try JSONEncoder().encode($0))) } ?? (previous == nil ? nil : .some(nil))
                let emitted = try zip(context.emitted, context.emittedTopics).map { envelope, topic in
                    OutboxEntry(id: envelope.id, topic: topic, key: envelope.key.isEmpty ? nil : Array(envelope.key), event: try envelope.serializedBytes())
                }
                try await commit(HandledEvent(eventID: event.id, key: key, offset: offset, newState: newState, emitted: emitted,
                                              outcome: Array(context.outcome)))
                return
            } catch is CancellationError where Task.isCancelled {
                throw CancellationError()
            } catch {
                switch agent.retryPolicy.decision(afterAttempt: attempt, using: &random) {
                case .retry(let delay):
                    AgentMetrics.retried(agent: agent.name)
                    attempt += 1
                    try await Task.sleep(for: .milliseconds(delay))
                case .deadLetter:
                    try await deadLetter(raw: value, id: event.id, key: key, offset: offset, error: "\(error)", attempts: attempt)
                    return
                }
            }
        }
    }

    private func accepts(_ event: EventEnvelope) -> Bool {
        let subscription = agent.subscription
        if !subscription.types.isEmpty && !subscription.types.contains(event.type) { return false }
        guard let filter = subscription.filter else { return true }
        return filter.matches(EventFields(event).value(at:))
    }

    /// Runs the handler, cancelled at the policy's deadline.
    private func runWithDeadline(_ context: AgentContext<A.State>) async throws {
        let agent = self.agent
        let deadline = agent.retryPolicy.attemptDeadlineMilliseconds
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await agent.handle(context)
                return true
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(deadline))
                return false
            }
            let finished = try await group.next() ?? false
            group.cancelAll()
            if !finished { throw AgentError.deadlineExceeded(milliseconds: deadline) }
        }
    }

    /// The event goes to `<agent>.dlq` with its error, attempts and agent name; its offset moves.
    private func deadLetter(raw: [UInt8], id: String, key: String, offset: Int64, error: String, attempts: Int) async throws {
        var letter = EventEnvelope()
        letter.id = EmittedEventID.derive(inputID: id, index: 0) + "-dead-letter"
        letter.specVersion = EventEnvelope.cloudEventsSpecVersion
        letter.source = "/agents/\(agent.name)"
        letter.type = "ganglion.dead_letter"
        letter.key = Data(key.utf8)
        letter.causationID = id
        letter.extensions = ["error": error, "attempts": String(attempts), "agent": agent.name,
                             "topic": agent.subscription.topic, "partition": String(partition), "offset": String(offset)]
        letter.dataContentType = "application/octet-stream"
        letter.data = Data(raw)
        AgentMetrics.deadLettered(agent: agent.name)
        let entry = OutboxEntry(id: letter.id, topic: AgentHost.deadLetterTopic(agent.name), key: Array(key.utf8), event: try letter.serializedBytes())
        try await commit(HandledEvent(eventID: id, key: key, offset: offset, newState: nil, emitted: [entry], outcome: Array(error.utf8)))
    }

    /// Appends the event's batch to the changelog (durable under the node's policy), applies it,
    /// then forwards the outbox.
    private func commit(_ handled: HandledEvent) async throws {
        try await append(changelog.records(for: handled))
        AgentMetrics.handled(agent: agent.name)
        try await forwardOutbox()
    }

    private func append(_ records: [ShardChangelog.Record]) async throws {
        guard !records.isEmpty else { return }
        var builder = RecordBatchBuilder()
        for record in records { builder.append(key: record.key, value: record.value, timestamp: Int64(Date().timeIntervalSince1970 * 1000)) }
        try await client.produce(topic: changelogTopic, partition: partition, batch: builder.build())
        changelog.apply(records)
    }

    /// Sends the outbox to its topics (same ids as before a crash), then tombstones it.
    private func forwardOutbox() async throws {
        let pending = changelog.pendingOutbox
        guard !pending.isEmpty else { return }
        for entry in pending { try await producer.send(topic: entry.topic, key: entry.key, value: entry.event) }
        try await append(changelog.forwardedRecords(ids: pending.map(\.id)))
    }
}

/// Why an attempt failed inside the runtime.
public enum AgentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The handler ran past its deadline and was cancelled.
    case deadlineExceeded(milliseconds: Int64)

    /// What happened.
    public var description: String {
        switch self {
        case .deadlineExceeded(let milliseconds): "the handler ran past its deadline of \(milliseconds) ms and was cancelled"
        }
    }
}
