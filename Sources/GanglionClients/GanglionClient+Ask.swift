import ClusterCore
import Foundation
import GanglionWire

/// An agent's answer to ``GanglionClient/ask(agent:key:type:data:contentType:timeout:id:)``.
public struct AskReply: Sendable {
    /// The reply event: type `ganglion.reply`, causation id = the request's id.
    public var event: EventEnvelope
    /// Where the request event was stored.
    public var topic: String
    /// Its partition (the key's).
    public var partition: UInt32
    /// Its offset.
    public var offset: Int64

    /// The handler's reply.
    public var data: Data { event.data }
}

extension GanglionClient {
    /// Asks agent type `agent` about entity `key` (DESIGN §4, ``AgentAsk``): the request is
    /// handled by the shard owning the key, in order with the key's events, and its reply returned.
    /// Throws `TIMEOUT` when no reply came within `timeout` (the request is still handled later),
    /// `UNKNOWN_GROUP` for an agent that never ran, and ``AskRefused`` when the handler failed
    /// every attempt. Asking again with the same `id` does not run the handler again.
    public func ask(agent: String, key: String, type: String = "", data: Data = Data(), contentType: String = "",
                    timeout: Duration = .seconds(5), id: String = "") async throws -> AskReply {
        var request = Ganglion_V1_AskRequest()
        request.agent = agent
        request.key = Data(key.utf8)
        request.type = type
        request.data = data
        request.contentType = contentType
        request.timeoutMs = UInt32(clamping: max(1, timeout.wholeMilliseconds))
        request.id = id
        // The node answers TIMEOUT itself at the ask's deadline; the call waits a little longer.
        let response = try await call(.ask, request, timeout: timeout + .seconds(2), reply: Ganglion_V1_AskResponse.self).0
        let event = try EventEnvelope(serializedBytes: response.reply)
        guard response.error.isEmpty else { throw AskRefused(agent: agent, key: key, error: response.error, reply: event) }
        return AskReply(event: event, topic: response.topic, partition: response.partition, offset: response.offset)
    }
}

/// The asked agent's handler failed every attempt; the request went to its dead letters.
public struct AskRefused: Error, Sendable, CustomStringConvertible {
    /// The agent asked.
    public var agent: String
    /// The key asked about.
    public var key: String
    /// The handler's last error.
    public var error: String
    /// The reply event carrying the error.
    public var reply: EventEnvelope

    /// What happened.
    public var description: String { "agent \(agent) failed the request for key \(key): \(error)" }
}
