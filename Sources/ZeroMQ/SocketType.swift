import CZeroMQ

/// The ZeroMQ socket patterns the cluster uses.
public enum SocketType: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Publishes every message to all matching subscribers; never blocks, drops at the HWM.
    case pub
    /// Receives the messages of the prefixes it subscribed to.
    case sub
    /// A PUB that also receives subscription messages (and can refuse to drop: `xpubNoDrop`).
    case xpub
    /// A SUB that sends its subscriptions as messages.
    case xsub
    /// Asynchronous requester: load-balances outgoing, fair-queues incoming messages.
    case dealer
    /// Asynchronous replier: prefixes each message with the sender's routing id.
    case router
    /// One exclusive peer, e.g. across threads over `inproc`.
    case pair

    var rawValue: Int32 {
        switch self {
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pair: ZMQ_PAIR
        }
    }

    /// The pattern's name as libzmq spells it, e.g. `ROUTER`.
    public var description: String {
        switch self {
        case .pub: "PUB"
        case .sub: "SUB"
        case .xpub: "XPUB"
        case .xsub: "XSUB"
        case .dealer: "DEALER"
        case .router: "ROUTER"
        case .pair: "PAIR"
        }
    }
}
