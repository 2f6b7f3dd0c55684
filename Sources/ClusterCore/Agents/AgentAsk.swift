/// How an `ask` travels (DESIGN §4, the hybrid request-response path): the request is an event on
/// the agent's input topic, keyed by the entity key, so the partition's owning shard handles it in
/// order with the key's other events — during a rebalance too, since whichever shard owns the
/// partition next takes it. The event names its agent in the ``extensionKey`` extension (other
/// agent types on the topic skip it); once its handling is durable, the shard emits the reply to
/// ``repliesTopic(_:)`` under the same key, with the request's id as causation id.
public enum AgentAsk {
    /// The CloudEvents extension naming the agent an event asks.
    public static let extensionKey = "ganglionask"
    /// The reply's extension carrying the error of a request that failed every attempt.
    public static let errorExtensionKey = "ganglionerror"
    /// The request event's type when the asker names none.
    public static let defaultType = "ganglion.ask"
    /// The reply event's type.
    public static let replyType = "ganglion.reply"

    /// The extension of a dead letter that does not hold its event, too large to fit in one record
    /// with the letter around it: its size, and where the event is.
    public static let deadLetterOmittedKey = "data_omitted"

    /// Where an agent type's dead letters go.
    public static func deadLetterTopic(_ agent: String) -> String { "\(agent).dlq" }

    /// Where an agent type's replies go (as many partitions as its input topic).
    public static func repliesTopic(_ agent: String) -> String { "\(agent)\(repliesSuffix)" }

    /// What every replies topic's name ends with.
    public static let repliesSuffix = ".replies"

    /// The reply event's id for the request `requestID` (a reply sent again has the same id).
    public static func replyID(_ requestID: String) -> String { "\(requestID)-reply" }
}
