import Foundation
import GanglionWire
import ZeroMQ

/// One request as its handler gets it: the header, the body frame and — for a produce — the batch.
struct NodeRequest {
    /// The request's header.
    let header: Ganglion_V1_RequestHeader
    /// The body frame (the kind's request message).
    let body: Frame
    /// The raw record batch of a produce.
    let batch: Frame?
    /// Who sent it, when security is on (nil: off, or the node itself).
    var principal: String? = nil
    /// The client's request id, echoed in the reply.
    var requestID: UInt64 { header.requestID }
}

/// Serves the requests of one concern (produce, fetch, topics, groups, …). Every request gets
/// exactly one reply through `respond` — possibly later, from another thread — or the handler
/// throws and ``NodeAPI`` answers with the error's code.
protocol RequestHandler: Sendable {
    /// The kinds it serves.
    var kinds: [Ganglion_V1_RequestKind] { get }
    /// Serves one request.
    func handle(_ request: NodeRequest, respond: @escaping NodeAPI.Respond) throws
}

/// The table from request kind to handler: where a reader finds what happens to each kind.
final class RequestHandlers: @unchecked Sendable {
    // Written once, by `install`, before the node serves anything; read-only afterwards.
    private var table: [Ganglion_V1_RequestKind: any RequestHandler] = [:]

    /// Builds the table for `api`.
    func install(for api: NodeAPI) {
        let handlers: [any RequestHandler] = [
            ProduceHandler(api: api), FetchHandler(api: api), TopicHandler(api: api), ProducerIDHandler(api: api),
            GroupHandler(api: api), RegistryHandler(api: api), AskHandler(api: api), ControllerHandler(api: api),
            ReplicationHandler(api: api), SecurityHandler(api: api),
        ]
        for handler in handlers {
            for kind in handler.kinds {
                precondition(table[kind] == nil, "two handlers serve \(kind)")
                table[kind] = handler
            }
        }
    }

    /// The handler of `kind`, if this node serves it.
    func handler(for kind: Ganglion_V1_RequestKind) -> (any RequestHandler)? { table[kind] }
}
