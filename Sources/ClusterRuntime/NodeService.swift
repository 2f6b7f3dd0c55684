import ServiceLifecycle

/// The node as a `Service`: it serves until the service group shuts down (SIGTERM or SIGINT),
/// then stops: sockets closed within their linger, logs flushed and checkpointed.
public struct NodeService: Service {
    /// The running node.
    public let node: Node

    /// A service around a started node.
    public init(node: Node) { self.node = node }

    /// Waits for graceful shutdown, then stops the node.
    public func run() async throws {
        try? await gracefulShutdown()
        node.stop()
    }
}
