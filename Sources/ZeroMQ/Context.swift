import CZeroMQ

/// A libzmq context: the I/O threads and the registry of the sockets made from it.
///
/// A context is thread-safe and shared freely. Every ``Socket`` keeps its context alive, so the
/// context is terminated only after its last socket is closed; because every socket is created
/// with a bounded linger (``defaultLinger``), termination waits at most that long for unsent
/// messages and never hangs. ``shutdown()`` makes blocking calls on all its sockets fail with
/// ``ZeroMQError/Code/contextTerminated`` so their owners can close them.
public final class Context: Sendable {
    // zmq_ctx_* functions are thread-safe (libzmq documents the context as such).
    nonisolated(unsafe) let handle: UnsafeMutableRawPointer

    /// The linger applied to every socket at creation: how long closing a socket may wait to
    /// flush queued messages before they are dropped.
    public let defaultLinger: Duration

    /// Creates a context.
    /// - Parameters:
    ///   - ioThreads: libzmq background I/O threads (1 is enough below ~1 GB/s).
    ///   - maxSockets: the most sockets this context may hold open at once.
    ///   - defaultLinger: the linger every new socket starts with; never unbounded.
    public init(ioThreads: Int32 = 1, maxSockets: Int32 = 1024, defaultLinger: Duration = .milliseconds(500)) throws {
        guard let handle = zmq_ctx_new() else { throw ZeroMQError.last("zmq_ctx_new") }
        self.handle = handle
        self.defaultLinger = defaultLinger
        // Not blocky: a socket closed without an explicit linger does not hold up termination.
        for (option, value, name) in [
            (ZMQ_IO_THREADS, ioThreads, "io threads"), (ZMQ_MAX_SOCKETS, maxSockets, "max sockets"),
            (ZMQ_BLOCKY, 0, "blocky"),
        ] where zmq_ctx_set(handle, option, value) != 0 {
            let error = ZeroMQError.last("zmq_ctx_set \(name)=\(value)")
            zmq_ctx_term(handle)
            throw error
        }
    }

    /// Makes every blocking call on this context's sockets return ``ZeroMQError/Code/contextTerminated``
    /// and refuses new sockets. Does not wait; the context is freed once all its sockets are closed.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    deinit {
        // Every socket retains its context, so none is open here and only linger can delay us.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}
