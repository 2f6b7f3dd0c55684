import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// Waits until any of several sockets or file descriptors is ready.
///
/// ZeroMQ sockets are waited on through their `ZMQ_FD` (which signals when libzmq has commands
/// for the socket) with one `poll(2)` over every item, and a socket's `ZMQ_EVENTS` is read only
/// when its descriptor signalled or the socket was used since it was last read (any operation
/// can take in the commands that announce a message, and the descriptor then stays quiet about
/// it). `zmq_poll` reads every socket's events twice per call and polls once more without
/// waiting; on a thread woken once per event those system calls are a large part of its work.
///
/// A poller is used by the thread that owns its sockets; remove a socket before closing it
/// (a closed socket is skipped).
public struct Poller {
    /// What a registered item is: a ZeroMQ socket or a plain file descriptor (e.g. an eventfd).
    public enum Item {
        /// A ZeroMQ socket.
        case socket(Socket)
        /// A file descriptor polled for readability.
        case fileDescriptor(Int32)
    }

    private struct Entry {
        let socket: Socket?
        var interest: Readiness
    }

    private var entries: [Entry] = []
    private var descriptors: [pollfd] = []

    /// An empty poller.
    public init() {}

    /// The number of registered items.
    public var count: Int { entries.count }

    /// Registers an item for the given interest; returns its index in ``poll(timeout:)``'s results.
    @discardableResult
    public mutating func add(_ item: Item, interest: Readiness = .readable) throws -> Int {
        switch item {
        case .socket(let socket):
            let handle = try socket.open("poll")
            var fd: Int32 = -1
            var size = MemoryLayout<Int32>.size
            try socket.retryingInterrupts("get the socket's file descriptor") { zmq_getsockopt(handle, ZMQ_FD, &fd, &size) }
            entries.append(Entry(socket: socket, interest: interest))
            // The socket's descriptor only says libzmq has news for it: read its events then.
            descriptors.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
        case .fileDescriptor(let fd):
            entries.append(Entry(socket: nil, interest: interest))
            descriptors.append(pollfd(fd: fd, events: Self.pollEvents(interest), revents: 0))
        }
        return entries.count - 1
    }

    /// Removes a socket registered earlier (indexes of later items shift down by one).
    public mutating func remove(_ socket: Socket) {
        guard let index = entries.firstIndex(where: { $0.socket === socket }) else { return }
        entries.remove(at: index)
        descriptors.remove(at: index)
    }

    /// Changes what a registered item is polled for.
    public mutating func setInterest(_ interest: Readiness, at index: Int) {
        entries[index].interest = interest
        // What the socket was ready for outside the old interest is asked again.
        if let socket = entries[index].socket { socket.unsettled = true } else { descriptors[index].events = Self.pollEvents(interest) }
    }

    /// Waits up to `timeout` (`nil` = until something is ready) and returns, per item index, what
    /// is ready; empty on timeout. EINTR counts as a timeout: the caller simply polls again.
    public mutating func poll(timeout: Duration?) throws -> [(index: Int, readiness: Readiness)] {
        var result: [(index: Int, readiness: Readiness)] = []
        // Sockets used since their events were read may hold what their descriptor will not
        // announce: they are asked first, and when one is ready the poll below does not wait.
        for index in entries.indices {
            guard let socket = entries[index].socket, socket.unsettled, let ready = try events(of: index) else { continue }
            result.append((index, ready))
        }
        // Then the descriptors: without waiting when something is ready already, so a socket
        // that always has more never hides the others (every ready item is reported, as by
        // zmq_poll). A socket's descriptor also signals commands that bring no message (a peer
        // connecting): then the wait goes on, up to the timeout, as zmq_poll's does.
        let deadline = result.isEmpty ? timeout.map { ContinuousClock.now.advanced(by: $0) } : ContinuousClock.now
        while true {
            let remaining = deadline.map { max(.zero, ContinuousClock.now.duration(to: $0)) }
            let milliseconds: Int32 = remaining.map { Int32(clamping: Int(($0 / .milliseconds(1)).rounded(.up))) } ?? -1
            for index in descriptors.indices {
                descriptors[index].revents = 0
                // A socket closed while registered: its descriptor number may be anyone's now.
                if let socket = entries[index].socket, socket.isClosed { descriptors[index].fd = -1 }
            }
            let count = descriptors.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), milliseconds) }
            if count < 0 {
                let error = errno
                if error == EINTR { return result }
                throw ZeroMQError(errno: error, operation: "poll over \(entries.count) items")
            }
            guard count > 0 else { return result }
            for index in entries.indices where descriptors[index].revents != 0 && !result.contains(where: { $0.index == index }) {
                if entries[index].socket != nil {
                    if let ready = try events(of: index) { result.append((index, ready)) }
                } else {
                    result.append((index, Self.readiness(descriptors[index].revents)))
                }
            }
            if !result.isEmpty || milliseconds == 0 { return result }
        }
    }

    /// Reads the socket's `ZMQ_EVENTS` (taking in its commands) and returns what it is ready for
    /// among what is asked, if anything; a closed socket is never ready.
    private func events(of index: Int) throws -> Readiness? {
        guard let socket = entries[index].socket, let handle = socket.handle else { return nil }
        var events: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try socket.retryingInterrupts("get the socket's events") { zmq_getsockopt(handle, ZMQ_EVENTS, &events, &size) }
        socket.unsettled = false
        let ready = Readiness(rawValue: Int16(truncatingIfNeeded: events)).intersection(entries[index].interest)
        return ready.isEmpty ? nil : ready
    }

    /// `poll(2)` events for a descriptor's interest.
    private static func pollEvents(_ interest: Readiness) -> Int16 {
        (interest.contains(.readable) ? Int16(POLLIN) : 0) | (interest.contains(.writable) ? Int16(POLLOUT) : 0)
    }

    /// A descriptor's `poll(2)` result as readiness (anything but in or out is an error, as
    /// `zmq_poll` reports it).
    private static func readiness(_ revents: Int16) -> Readiness {
        var ready: Readiness = []
        if revents & Int16(POLLIN) != 0 { ready.insert(.readable) }
        if revents & Int16(POLLOUT) != 0 { ready.insert(.writable) }
        if revents & ~Int16(POLLIN | POLLOUT) != 0 { ready.insert(Readiness(rawValue: Int16(ZMQ_POLLERR))) }
        return ready
    }
}
