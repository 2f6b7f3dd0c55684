import CZeroMQ
import Logging

extension SocketLoop {
    /// Names a socket owned by a loop, so commands from other threads can refer to it.
    public struct SocketID: Hashable, Sendable, CustomStringConvertible {
        let value: Int
        /// `loop-name#n`-style text for logs.
        public var description: String { "socket#\(value)" }
    }

    /// Names a timer scheduled on a loop, to cancel it.
    public struct TimerID: Hashable, Sendable {
        let value: Int
    }

    /// The loop thread's view of its sockets: given to commands, handlers and timers, and usable
    /// only on the loop thread (it is not `Sendable`).
    public final class Owner {
        /// Called on the loop thread when a watched socket has messages. Drain a bounded batch with
        /// non-blocking receives; the handler is called again while messages remain.
        public typealias ReadHandler = (Socket, Owner) throws -> Void

        private struct Watched {
            let socket: Socket
            let handler: ReadHandler
        }

        private struct Timer {
            let id: TimerID
            let deadline: ContinuousClock.Instant
            let body: (Owner) throws -> Void
            /// Runs early when the loop stops (a sleeper's wake-up), instead of being dropped.
            var runsOnStop = false
        }

        /// The name of the loop this owner belongs to.
        public let loopName: String
        /// The context sockets are made in.
        public let context: Context
        /// The logger handlers' errors go to.
        public let logger: Logger

        private var sockets: [SocketID: Socket] = [:]
        private var watched: [SocketID: Watched] = [:]
        private var timers: [Timer] = []
        private var nextID = 0
        private var poller = Poller()
        private var pollOrder: [SocketID] = []
        private var pollerIsStale = true
        private let clock = ContinuousClock()
        private let timerSignal: TimerSignal

        init(loopName: String, context: Context, logger: Logger, timerSignal: TimerSignal) {
            self.loopName = loopName
            self.context = context
            self.logger = logger
            self.timerSignal = timerSignal
        }

        /// Makes a socket owned by this loop; it is closed when the loop stops.
        public func makeSocket(_ type: SocketType) throws -> Socket {
            let socket = try Socket(type, context: context)
            nextID += 1
            sockets[SocketID(value: nextID)] = socket
            return socket
        }

        /// The id of a socket made by ``makeSocket(_:)``, for commands sent from other threads.
        public func id(of socket: Socket) -> SocketID? {
            sockets.first { $0.value === socket }?.key
        }

        /// The ids of the loop's open sockets, in creation order.
        public var socketIDs: [SocketID] { sockets.keys.sorted { $0.value < $1.value } }

        /// The socket with this id, or `nil` once it is closed.
        public func socket(_ id: SocketID) -> Socket? { sockets[id] }

        /// Calls `handler` whenever `socket` is readable.
        public func watch(_ socket: Socket, _ handler: @escaping ReadHandler) {
            guard let id = id(of: socket) else {
                preconditionFailure("watch: the socket was not made by loop \(loopName)")
            }
            watched[id] = Watched(socket: socket, handler: handler)
            pollerIsStale = true
        }

        /// Stops calling the handler of `socket`.
        public func unwatch(_ socket: Socket) {
            guard let id = id(of: socket) else { return }
            watched[id] = nil
            pollerIsStale = true
        }

        /// Closes a socket of this loop (with its linger) and forgets it.
        public func close(_ socket: Socket) {
            if let id = id(of: socket) {
                watched[id] = nil
                sockets[id] = nil
                pollerIsStale = true
            }
            socket.close()
        }

        /// Runs `body` on the loop thread once `delay` has passed; returns an id to cancel it.
        @discardableResult
        public func schedule(after delay: Duration, _ body: @escaping (Owner) throws -> Void) -> TimerID {
            schedule(at: clock.now.advanced(by: delay), body)
        }

        /// Runs `body` on the loop thread at `deadline` (to the microsecond); returns an id to cancel it.
        @discardableResult
        public func schedule(at deadline: ContinuousClock.Instant, _ body: @escaping (Owner) throws -> Void) -> TimerID {
            schedule(at: deadline, runsOnStop: false, body)
        }

        @discardableResult
        func schedule(at deadline: ContinuousClock.Instant, runsOnStop: Bool, _ body: @escaping (Owner) throws -> Void) -> TimerID {
            nextID += 1
            let timer = Timer(id: TimerID(value: nextID), deadline: deadline, body: body, runsOnStop: runsOnStop)
            let index = timers.firstIndex { $0.deadline > timer.deadline } ?? timers.endIndex
            timers.insert(timer, at: index)
            return timer.id
        }

        /// Cancels a timer that has not run yet.
        public func cancel(_ timer: TimerID) {
            timers.removeAll { $0.id == timer }
        }

        /// One poll: waits for a watched socket, the wake signal or the next timer (or, when
        /// `block` is false, only looks), and calls the handlers of ready sockets.
        func pollOnce(wake: WakeSignal, block: Bool = true) throws {
            if pollerIsStale { try rebuildPoller(wake: wake) }
            // The timerfd wakes the poll at the next deadline to the microsecond; the poll's own
            // timeout (whole milliseconds, rounded up) only backs it up.
            let next = timers.first?.deadline
            if block { timerSignal.arm(next) }
            let timeout = block ? next.map { max(.zero, clock.now.duration(to: $0)) } : .zero
            for (index, _) in try poller.poll(timeout: timeout) {
                if index == 0 {
                    wake.drain()
                    continue
                }
                if index == 1 {
                    timerSignal.drain()
                    continue
                }
                // A handler may close or unwatch sockets; look each one up again.
                guard let entry = watched[pollOrder[index - 2]], !entry.socket.isClosed else { continue }
                do {
                    try entry.handler(entry.socket, self)
                } catch {
                    logger.error(
                        "socket handler failed",
                        metadata: ["ganglion.loop": "\(loopName)", "ganglion.socket": "\(entry.socket.type)",
                                   "error": "\(error)"])
                }
            }
        }

        /// Runs the timers whose deadline has passed.
        func runDueTimers() {
            let now = clock.now
            while let first = timers.first, first.deadline <= now {
                timers.removeFirst()
                do {
                    try first.body(self)
                } catch {
                    logger.error("socket loop timer failed", metadata: ["ganglion.loop": "\(loopName)", "error": "\(error)"])
                }
            }
        }

        /// Closes every socket of the loop; called as the loop stops.
        func closeAll() {
            for socket in sockets.values { socket.close() }
            sockets = [:]
            watched = [:]
            let sleepers = timers.filter(\.runsOnStop)
            timers = []
            for sleeper in sleepers { try? sleeper.body(self) }
        }

        private func rebuildPoller(wake: WakeSignal) throws {
            var poller = Poller()
            try poller.add(.fileDescriptor(wake.fileDescriptor))
            try poller.add(.fileDescriptor(timerSignal.fileDescriptor))
            pollOrder = watched.keys.sorted { $0.value < $1.value }
            for id in pollOrder { try poller.add(.socket(watched[id]!.socket)) }
            self.poller = poller
            pollerIsStale = false
        }
    }
}
