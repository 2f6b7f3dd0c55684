import ClusterCore
import ClusterRuntime
import Foundation
import GanglionWire

/// What an agent type consumes: a topic, the event types it handles (empty: every type) and a
/// filter over envelope attributes and payload fields, evaluated before the handler runs.
public struct AgentSubscription: Sendable {
    /// The topic.
    public var topic: String
    /// Event types handled; others are skipped without running the handler.
    public var types: Set<String>
    /// A filter such as `type == "transaction.created" && amount > 1000`.
    public var filter: EventFilter?

    /// A subscription; `filter` is parsed now, so a mistake shows at once with its column.
    public init(topic: String, types: Set<String> = [], filter: String? = nil) throws {
        self.topic = topic
        self.types = types
        self.filter = try filter.map { text throws(FilterSyntaxError) in try EventFilter(text) }
    }
}

/// An agent type (DESIGN §4): a consumer group whose shards (one per partition) hold one entity
/// per key with a typed state; `handle` runs for one event of one key at a time.
public protocol Agent: Sendable {
    /// The entity state kept per key: a Codable type (stored as JSON) or a protobuf message
    /// declared ``ProtobufAgentState`` (stored as protobuf binary). A struct's value left by one
    /// event is handed to the key's next event as it is while its stored bytes are unchanged
    /// (decoded again only after a restart, a move or passivation), so a state must encode all
    /// it holds: a property its encoding leaves out survives only until the entity is reloaded.
    associatedtype State: Codable & Sendable
    /// The agent type's name: its consumer group, and the prefix of its changelog and
    /// dead-letter topics.
    var name: String { get }
    /// What it consumes.
    var subscription: AgentSubscription { get }
    /// Deadline per attempt, retries with backoff, then the dead letters.
    var retryPolicy: RetryPolicy { get }
    /// Handles one event; change `context.state`, `emit` events, `reply`. Throwing retries the
    /// event under the retry policy; the state and emitted events of a failed attempt are dropped.
    func handle(_ context: AgentContext<State>) async throws
}

extension Agent {
    /// Five attempts, 100 ms doubling to 10 s, 30 s per attempt.
    public var retryPolicy: RetryPolicy { RetryPolicy() }
}

/// What a handler sees and does for one event of one key.
public final class AgentContext<State: Codable & Sendable>: @unchecked Sendable {
    // Only the handler's task touches a context.
    /// The event.
    public let event: EventEnvelope
    /// The entity key (the event's key as text).
    public let key: String
    /// Where the event is.
    public let partition: UInt32
    /// Its offset.
    public let offset: Int64
    /// This attempt, from 1.
    public let attempt: Int
    /// The key's state: nil before the first event of the key; set it to change it, nil deletes it.
    public var state: State?
    /// Emitted events with their topics, in order (handed to the shard as they are).
    private(set) var emitted: [EmittedEvent] = []
    /// What a redelivery of this event answers with, and an ask's reply (see ``isAsk``).
    public var outcome: Data = Data()
    /// The agent type handling the event.
    public let agentName: String
    /// Whether the event is an ask (``AgentAsk``) to this agent: set ``outcome`` (or call
    /// ``reply(_:)``) to answer it.
    public var isAsk: Bool { event.extensions[AgentAsk.extensionKey] == agentName }
    /// The name of the timer firing now (``schedule(_:after:data:)``); nil when an event is handled.
    /// The timer's data is ``event``'s data.
    public let timer: String?
    let client: GanglionClient?
    private var asks = 0
    private(set) var timerChanges: [TimerChange] = []

    init(agentName: String, event: EventEnvelope, key: String, partition: UInt32, offset: Int64, attempt: Int, state: State?,
         client: GanglionClient? = nil, timer: String? = nil) {
        self.client = client
        self.timer = timer
        self.agentName = agentName
        self.event = event
        self.key = key
        self.partition = partition
        self.offset = offset
        self.attempt = attempt
        self.state = state
    }

    /// Emits an event to `topic` once this event's progress is durable: its id derives from the
    /// input's id and the emit index, its causation id is the input's id, and its time (when the
    /// input has one), the correlation id and trace context carry over.
    public func emit(topic: String, type: String, key: String? = nil, data: Data, contentType: String = "application/json") {
        let out = EmittedEvent.envelope(causedBy: event, agent: agentName, index: emitted.count, type: type, key: Data((key ?? self.key).utf8),
                                        data: data, contentType: contentType)
        emitted.append(EmittedEvent(topic: topic, event: out))
    }

    /// Schedules timer `name` of this key to fire after `delay` (replacing one of the same name):
    /// the handler then runs for this key, in order with its events, with ``timer`` set to `name`
    /// and `data` as the event's data. Durable with this event's progress, so it survives crashes
    /// and moves with the shard; it fires once (its removal is part of its handling's batch).
    /// Timers fire within about 50 ms of their time while the shard runs.
    public func schedule(_ name: String, after delay: Duration, data: Data = Data()) {
        let fireAt = Int64(Date().timeIntervalSince1970 * 1000) + max(0, delay.wholeMilliseconds)
        timerChanges.append(.schedule(name: name, fireAt: fireAt, data: Array(data)))
    }

    /// Cancels timer `name` of this key (nothing when none is pending).
    public func cancelTimer(_ name: String) { timerChanges.append(.cancel(name: name)) }

    /// Answers an ask (sets ``outcome``): the asker receives `data` once this event's handling
    /// is durable.
    public func reply(_ data: Data) { outcome = data }

    /// Asks agent type `agent` about `key` and waits for its reply (the hybrid path, DESIGN §4).
    /// The request id derives from this event's id and the ask's index, so a retried attempt or
    /// a redelivery asks again with the same id and the other agent does not handle it twice.
    public func ask(agent: String, key: String, type: String = "", data: Data = Data(),
                    timeout: Duration = .seconds(5)) async throws -> AskReply {
        guard let client else { throw GanglionError(code: .internal, message: "this context has no node connection to ask through") }
        let id = EmittedEventID.derive(inputID: event.id, agent: agentName, index: asks) + "-ask"
        asks += 1
        return try await client.ask(agent: agent, key: key, type: type, data: data, timeout: timeout, id: id)
    }

    /// Records a decision for the audit trail: emitted to `<agent>.decisions` with the inputs,
    /// context and output as extensions.
    public func decide(_ decision: String, inputs: [String: String] = [:], policyVersion: String = "") {
        var data = ["decision": decision, "policy_version": policyVersion, "input_event": event.id]
        for (key, value) in inputs { data["input." + key] = value }
        let bytes = (try? JSONSerialization.data(withJSONObject: data, options: [.sortedKeys])) ?? Data()
        emit(topic: "\(agentName).decisions", type: "ganglion.decision.recorded", data: bytes)
    }
}
