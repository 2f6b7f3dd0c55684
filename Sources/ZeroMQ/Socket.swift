import CZeroMQ

/// A ZeroMQ socket, confined to the one thread that uses it.
///
/// `Socket` is deliberately not `Sendable`: libzmq sockets are not thread-safe, so the compiler
/// keeps each socket on the thread (usually a ``SocketLoop``) that made it. Other threads reach it
/// by sending commands to that loop. The socket keeps its ``Context`` alive and is closed, with
/// the context's bounded linger, by ``close()`` or when released.
public final class Socket {
    /// The pattern this socket was created with.
    public let type: SocketType
    /// The context the socket belongs to (kept alive by the socket).
    public let context: Context
    /// Counters of what passed through the socket, so drops and refusals are visible.
    public private(set) var statistics = SocketStatistics()

    var handle: UnsafeMutableRawPointer?
    /// Whether libzmq may have taken in commands for this socket since a ``Poller`` last read its
    /// `ZMQ_EVENTS`: any operation on the socket can consume the signal of its `ZMQ_FD` and leave
    /// a message waiting that the descriptor will not announce, so the poller asks it again first.
    var unsettled = true
    /// Reused by ``receive(blocking:_:)`` so borrowed receives allocate nothing.
    let scratch: UnsafeMutablePointer<zmq_msg_t>

    /// Creates a socket of `type` in `context`, with the context's default linger.
    public init(_ type: SocketType, context: Context) throws {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZeroMQError.last("zmq_socket \(type)")
        }
        self.type = type
        self.context = context
        self.handle = handle
        self.scratch = .allocate(capacity: 1)
        zmq_msg_init(scratch)
        try set(.linger(context.defaultLinger))
    }

    deinit {
        close()
        zmq_msg_close(scratch)
        scratch.deallocate()
    }

    /// Closes the socket. Queued outgoing messages get up to the linger to leave; then they are
    /// dropped. Closing twice is harmless.
    public func close() {
        guard let handle else { return }
        _ = zmq_close(handle)
        self.handle = nil
    }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { handle == nil }

    func open(_ operation: @autoclosure () -> String) throws -> UnsafeMutableRawPointer {
        guard let handle else {
            throw ZeroMQError(code: .socketClosed, message: "the socket is closed", operation: operation())
        }
        unsettled = true
        return handle
    }

    /// Binds to `endpoint` and returns the endpoint actually bound: for `tcp://127.0.0.1:*` it
    /// names the port the OS chose, so tests and nodes never hard-code ports.
    @discardableResult
    public func bind(_ endpoint: String) throws -> String {
        let handle = try open("bind \(endpoint)")
        try retryingInterrupts("bind \(endpoint)") { zmq_bind(handle, endpoint) }
        return try lastEndpoint
    }

    /// Stops listening on an endpoint returned by ``bind(_:)``.
    public func unbind(_ endpoint: String) throws {
        let handle = try open("unbind \(endpoint)")
        try retryingInterrupts("unbind \(endpoint)") { zmq_unbind(handle, endpoint) }
    }

    /// Connects to `endpoint`; libzmq connects (and reconnects) in the background.
    public func connect(_ endpoint: String) throws {
        let handle = try open("connect \(endpoint)")
        try retryingInterrupts("connect \(endpoint)") { zmq_connect(handle, endpoint) }
    }

    /// Drops the connection to `endpoint` made by ``connect(_:)``.
    public func disconnect(_ endpoint: String) throws {
        let handle = try open("disconnect \(endpoint)")
        try retryingInterrupts("disconnect \(endpoint)") { zmq_disconnect(handle, endpoint) }
    }

    /// Subscribes a SUB socket to messages whose first frame starts with `prefix` (empty: all).
    public func subscribe<Prefix: Collection>(_ prefix: Prefix) throws where Prefix.Element == UInt8 {
        try setBytes(ZMQ_SUBSCRIBE, Array(prefix), name: "subscribe")
    }

    /// Subscribes to messages whose first frame starts with the UTF-8 bytes of `prefix`.
    public func subscribe(_ prefix: String) throws { try subscribe(Array(prefix.utf8)) }

    /// Removes one earlier subscription to `prefix`.
    public func unsubscribe<Prefix: Collection>(_ prefix: Prefix) throws where Prefix.Element == UInt8 {
        try setBytes(ZMQ_UNSUBSCRIBE, Array(prefix), name: "unsubscribe")
    }

    /// Removes one earlier subscription to the UTF-8 bytes of `prefix`.
    public func unsubscribe(_ prefix: String) throws { try unsubscribe(Array(prefix.utf8)) }

    /// Sets an option (see ``SocketOption``).
    public func set(_ option: SocketOption) throws {
        let (number, value) = try option.encoded()
        switch value {
        case .int32(let int): try setValue(number, int, name: option.name)
        case .int64(let int): try setValue(number, int, name: option.name)
        case .bytes(let bytes): try setBytes(number, bytes, name: option.name)
        }
    }

    /// Sets several options in order.
    public func set(_ options: [SocketOption]) throws {
        for option in options { try set(option) }
    }

    private func setValue<Value: FixedWidthInteger>(_ option: Int32, _ value: Value, name: String) throws {
        let handle = try open("set \(name)")
        try retryingInterrupts("set \(name)") {
            withUnsafeBytes(of: value) { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        }
    }

    private func setBytes(_ option: Int32, _ bytes: [UInt8], name: String) throws {
        let handle = try open("set \(name)")
        try retryingInterrupts("set \(name)") {
            bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        }
    }

    /// Runs a libzmq call, retrying while it is interrupted by a signal (EINTR).
    func retryingInterrupts(_ operation: @autoclosure () -> String, _ call: () -> Int32) throws {
        while call() != 0 {
            let errno = zmq_errno()
            if errno != EINTR { throw ZeroMQError(errno: errno, operation: operation()) }
        }
    }
}

/// What a socket has done, counted by the binding so nothing is hidden: frames sent and received,
/// and sends refused with would-block (at the HWM with `xpubNoDrop`, or on timeout).
public struct SocketStatistics: Sendable, Hashable {
    /// Frames handed to libzmq.
    public var framesSent: UInt64 = 0
    /// Frames received from libzmq.
    public var framesReceived: UInt64 = 0
    /// Messages libzmq refused with would-block (EAGAIN) on send.
    public var sendsRefused: UInt64 = 0

    mutating func sent() { framesSent &+= 1 }
    mutating func received() { framesReceived &+= 1 }
    mutating func refused() { sendsRefused &+= 1 }
}

extension Socket {
    func recordSent() { statistics.sent() }
    func recordReceived() { statistics.received() }
    func recordRefused() { statistics.refused() }
}
