import CZeroMQ

/// Waits until any of several sockets or file descriptors is ready (`zmq_poll`).
///
/// A poller is used by the thread that owns its sockets; it holds the sockets weakly by handle,
/// so remove a socket before closing it.
public struct Poller {
    /// What a registered item is: a ZeroMQ socket or a plain file descriptor (e.g. an eventfd).
    public enum Item {
        /// A ZeroMQ socket.
        case socket(Socket)
        /// A file descriptor polled for readability.
        case fileDescriptor(Int32)
    }

    private var items: [zmq_pollitem_t] = []
    private var sockets: [Socket?] = []

    /// An empty poller.
    public init() {}

    /// The number of registered items.
    public var count: Int { items.count }

    /// Registers an item for the given interest; returns its index in ``poll(timeout:)``'s results.
    @discardableResult
    public mutating func add(_ item: Item, interest: Readiness = .readable) throws -> Int {
        switch item {
        case .socket(let socket):
            items.append(zmq_pollitem_t(socket: try socket.open("poll"), fd: 0, events: interest.rawValue, revents: 0))
            sockets.append(socket)
        case .fileDescriptor(let fd):
            items.append(zmq_pollitem_t(socket: nil, fd: fd, events: interest.rawValue, revents: 0))
            sockets.append(nil)
        }
        return items.count - 1
    }

    /// Removes a socket registered earlier (indexes of later items shift down by one).
    public mutating func remove(_ socket: Socket) {
        guard let index = sockets.firstIndex(where: { $0 === socket }) else { return }
        items.remove(at: index)
        sockets.remove(at: index)
    }

    /// Changes what a registered item is polled for.
    public mutating func setInterest(_ interest: Readiness, at index: Int) {
        items[index].events = interest.rawValue
    }

    /// Waits up to `timeout` (`nil` = until something is ready) and returns, per item index, what
    /// is ready; empty on timeout. EINTR counts as a timeout: the caller simply polls again.
    public mutating func poll(timeout: Duration?) throws -> [(index: Int, readiness: Readiness)] {
        let milliseconds: Int = timeout.map { max(0, Int(($0 / .milliseconds(1)).rounded(.up))) } ?? -1
        let ready = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), milliseconds) }
        if ready < 0 {
            let errno = zmq_errno()
            if errno == EINTR { return [] }
            throw ZeroMQError(errno: errno, operation: "poll over \(items.count) items")
        }
        var result: [(index: Int, readiness: Readiness)] = []
        result.reserveCapacity(Int(ready))
        for index in items.indices where items[index].revents != 0 {
            result.append((index, Readiness(rawValue: items[index].revents)))
        }
        return result
    }
}
