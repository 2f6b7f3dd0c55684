import ClusterCore
import Foundation
import GanglionWire

/// What a shard runs for its events (DESIGN §2 ShardHost): one agent type, seen as bytes — the
/// key's state in, the new state, emitted events and timers out. The `Ganglion` library adapts
/// its `Agent` protocol to it.
public protocol ShardHandler: Sendable {
    /// The agent type's name: its group, and the prefix of its changelog, replies and dead-letter topics.
    var name: String { get }
    /// The topic it consumes.
    var topic: String { get }
    /// Deadline per attempt, retries with backoff, then the dead letters.
    var retryPolicy: RetryPolicy { get }
    /// Whether an event is for this handler (its types and filter; asks are the shard's to decide).
    /// Throws when it cannot tell yet (e.g. a schema could not be fetched): the shard fails and is
    /// rebuilt rather than judge the event blind.
    func accepts(_ event: EventEnvelope) async throws -> Bool
    /// One attempt at one event of one key. Throwing retries the event under the retry policy.
    func handle(_ attempt: ShardAttempt) async throws -> ShardHandlerResult
}

/// One attempt of a handler at an event (or a timer's firing).
public struct ShardAttempt: Sendable {
    /// The event (for a timer: type `ganglion.timer`, the timer's data).
    public var event: EventEnvelope
    /// The entity key.
    public var key: String
    /// The input partition.
    public var partition: UInt32
    /// The input offset (negative for a timer).
    public var offset: Int64
    /// The attempt, from 1.
    public var attempt: Int
    /// The key's stored state; nil before its first event.
    public var state: [UInt8]?
    /// The timer firing, if this is one.
    public var timer: String?
}

/// An event a handler emitted, and where it goes.
public struct EmittedEvent: Sendable {
    /// The topic.
    public var topic: String
    /// The event (its id derived from the input's, see ``EmittedEventID``).
    public var event: EventEnvelope

    /// An emitted event.
    public init(topic: String, event: EventEnvelope) {
        self.topic = topic
        self.event = event
    }

    /// The envelope of the `index`th event (from 0) agent type `agent` emits while handling
    /// `input`: its id derived (``EmittedEventID``), CloudEvents attributes, the input's id as its
    /// causation id, and the input's time (when it has one), correlation id and trace context
    /// carried over — so a replay emits the same bytes.
    public static func envelope(causedBy input: EventEnvelope, agent: String, index: Int, type: String, key: Data, data: Data,
                                contentType: String) -> EventEnvelope {
        var out = EventEnvelope()
        out.id = EmittedEventID.derive(inputID: input.id, agent: agent, index: index)
        out.specVersion = EventEnvelope.cloudEventsSpecVersion
        out.source = "/agents"
        out.type = type
        // An input without a time gives an event without one, not the zero timestamp (1970).
        if input.hasTime { out.time = input.time }
        out.dataContentType = contentType
        out.data = data
        out.key = key
        out.causationID = input.id
        out.correlationID = input.correlationID.isEmpty ? input.id : input.correlationID
        out.traceparent = input.traceparent
        out.tracestate = input.tracestate
        return out
    }
}

/// What one successful attempt did.
public struct ShardHandlerResult: Sendable {
    /// The new state: nil leaves it, `.some(nil)` deletes it.
    public var newState: [UInt8]??
    /// Emitted events, in order.
    public var emitted: [EmittedEvent]
    /// The outcome recorded for redeliveries, and an ask's reply.
    public var outcome: [UInt8]
    /// Timers scheduled or cancelled for the key.
    public var timerChanges: [TimerChange]

    /// A result.
    public init(newState: [UInt8]??, emitted: [EmittedEvent], outcome: [UInt8], timerChanges: [TimerChange]) {
        self.newState = newState
        self.emitted = emitted
        self.outcome = outcome
        self.timerChanges = timerChanges
    }
}

/// What a shard reads and writes (its changelog partition, the topics of emitted events). The
/// `Ganglion` library implements it over the node protocol; an in-node implementation can work
/// on the node's logs directly.
public protocol ShardIO: Sendable {
    /// The changelog partition's records from `offset` on, with their offsets.
    func readChangelog(partition: UInt32, from offset: Int64) async throws -> [ShardChangelog.Record]
    /// The changelog records one read from `offset` returns (the record at `offset` first, if it
    /// is there, then some that follow it): a passivated key's records come back in few reads.
    func changelogRecords(partition: UInt32, at offset: Int64) async throws -> [ShardChangelog.Record]
    /// Appends a record batch to the changelog partition, durable under the node's policy;
    /// returns its first offset.
    func appendChangelog(partition: UInt32, batch: [UInt8]) async throws -> Int64
    /// The changelog writer's producer id and its next epoch (a new id without `resuming`).
    func initWriter(resuming producerID: Int64?) async throws -> (id: Int64, epoch: Int16)
    /// Sends emitted events (as one batch per partition where it can), durable under the node's
    /// policy when it returns; throws ``ShardIOError/unknownTopic(_:stored:)`` when a topic does
    /// not exist (and is not to be made), having stored the events before the first to it that
    /// it counts, and nothing after.
    func send(_ events: [OutgoingEvent]) async throws
}

/// What a ``ShardIO`` reports in terms the shard acts on.
public enum ShardIOError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Emitted events name a topic that does not exist; the first `stored` of them (all before
    /// the first to that topic) were stored before it was found missing.
    case unknownTopic(String, stored: Int)

    /// What happened.
    public var description: String {
        switch self {
        case .unknownTopic(let topic, _): "topic \(topic) does not exist"
        }
    }
}

/// An emitted event on its way to its topic.
public struct OutgoingEvent: Sendable {
    /// The topic.
    public var topic: String
    /// The partitioning key.
    public var key: [UInt8]?
    /// The encoded event.
    public var value: [UInt8]
    /// Create the topic when absent (a shadow replay's topics).
    public var createIfMissing: Bool

    /// An outgoing event.
    public init(topic: String, key: [UInt8]?, value: [UInt8], createIfMissing: Bool) {
        self.topic = topic
        self.key = key
        self.value = value
        self.createIfMissing = createIfMissing
    }
}

/// An input record of a shard.
public struct ShardInput: Sendable {
    /// Its topic.
    public var topic: String
    /// Its offset in the partition.
    public var offset: Int64
    /// Its value (an encoded event envelope, normally).
    public var value: [UInt8]?

    /// An input.
    public init(topic: String, offset: Int64, value: [UInt8]?) {
        self.topic = topic
        self.offset = offset
        self.value = value
    }
}

/// Why an attempt failed inside the runtime, or a shard could not go on.
public enum AgentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The handler ran past its deadline and was cancelled (and, still running past the grace
    /// after it, abandoned: its late result is discarded).
    case deadlineExceeded(milliseconds: Int64)
    /// The shard gave its partition up and its drain ran out of time: the attempt was abandoned,
    /// the event left unfinished for the partition's next owner.
    case abandonedByDrain(milliseconds: Int64)
    /// A passivated entity's state is no longer where the changelog said.
    case stateUnavailable(key: String, offsets: [Int64])
    /// What the handler returned cannot be stored: `what` (its new state, an emitted event, its
    /// effects together) takes `bytes` where the log holds `limit`. The attempt counts as failed.
    case effectTooLarge(what: String, bytes: Int, limit: Int)

    /// Whether the attempt's effects were too large to store (a failure of the attempt, not of the shard).
    public var isEffectTooLarge: Bool {
        if case .effectTooLarge = self { return true }
        return false
    }

    /// What happened.
    public var description: String {
        switch self {
        case .deadlineExceeded(let milliseconds): "the handler ran past its deadline of \(milliseconds) ms and was cancelled"
        case .abandonedByDrain(let milliseconds):
            "the shard gave its partition up and its drain of \(milliseconds) ms ran out before the handler returned: the event is left to the next owner"
        case .stateUnavailable(let key, let offsets): "the state of \(key) is no longer at changelog offsets \(offsets)"
        case .effectTooLarge(let what, let bytes, let limit):
            "\(what) is \(bytes) bytes, more than the \(limit) the log stores in one record or batch: nothing of the attempt was stored (keep large data elsewhere and store a reference to it)"
        }
    }
}
