import CZeroMQ
import Dispatch
import Foundation
import Logging
import Synchronization

/// A thread that owns a group of sockets for their whole life and serves commands from other
/// threads: czmq's `zactor` shape.
///
/// Only the loop thread ever touches its sockets. Other threads (async code included) hand it
/// work with ``execute(_:)`` or ``perform(_:)``; commands queue behind a mutex and one eventfd
/// wakes the poller, so a burst of commands costs one wake-up and is run as a batch. The loop
/// also calls a handler whenever a watched socket is readable and runs timers. ``stop()`` is
/// synchronous: when it returns, the thread has ended and its sockets are closed.
public final class SocketLoop: Sendable {
    /// Work run on the loop thread with access to its sockets.
    public typealias Command = @Sendable (SocketLoop.Owner) -> Void

    /// The loop's name, used for its thread and in logs and errors.
    public let name: String
    /// The context the loop's sockets are made in.
    public let context: Context
    let core: Core

    /// Starts the loop thread.
    /// - Parameters:
    ///   - name: names the thread and appears in logs.
    ///   - context: the context for sockets made with ``Owner/makeSocket(_:)``.
    ///   - logger: where errors thrown by handlers and timers are reported.
    public init(name: String, context: Context, logger: Logger = Logger(label: "ganglion.zeromq.loop")) throws {
        self.name = name
        self.context = context
        self.core = try Core(name: name, context: context, logger: logger)
        let core = self.core
        let thread = Thread { core.run() }
        thread.name = name
        thread.start()
        core.waitUntilStarted()
    }

    deinit { core.stop() }

    /// Queues `command` to run on the loop thread; returns `false` if the loop has stopped (the
    /// command is then dropped).
    @discardableResult
    public func execute(_ command: @escaping Command) -> Bool {
        core.enqueue(CollectionOfOne(command))
    }

    /// Queues several commands at once (one lock, at most one wake-up); `false` if stopped.
    @discardableResult
    public func execute(batch commands: [Command]) -> Bool {
        core.enqueue(commands)
    }

    /// Runs `body` on the loop thread and returns its result to async code.
    /// - Throws: what `body` throws, or a ``ZeroMQError`` if the loop has stopped.
    public func perform<Result: Sendable>(
        _ body: @escaping @Sendable (Owner) throws -> Result
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = execute { owner in continuation.resume(with: Swift.Result { try body(owner) }) }
            if !accepted { continuation.resume(throwing: stoppedError()) }
        }
    }

    /// Runs `body` on the loop thread and blocks the caller until it is done. For setup from
    /// synchronous code; never call it from async code (it blocks a cooperative thread).
    /// Called on the loop thread itself, it runs `body` in place.
    public func performAndWait<Result: Sendable>(
        _ body: @escaping @Sendable (Owner) throws -> Result
    ) throws -> Result {
        if let owner = core.ownerIfOnLoopThread() { return try body(owner) }
        let outcome = LockedState<Swift.Result<Result, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let accepted = execute { owner in
            outcome.withLock { $0 = Swift.Result { try body(owner) } }
            done.signal()
        }
        guard accepted else { throw stoppedError() }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// Stops the loop: runs the commands already queued, closes every socket it owns (each with
    /// its bounded linger) and ends the thread. Returns when all that is done (at once if called
    /// from the loop thread, which finishes after the current iteration). Idempotent.
    public func stop() { core.stop() }

    /// Whether ``stop()`` has been called.
    public var isStopped: Bool { core.isStopping }

    private func stoppedError() -> ZeroMQError {
        ZeroMQError(code: .socketClosed, message: "socket loop \(name) is stopped", operation: "execute")
    }
}

extension SocketLoop {
    /// The shared, lock-protected part of a loop and the body of its thread.
    final class Core: Sendable {
        struct Pending {
            var commands: [Command] = []
            var wakePending = false
            var stopping = false
            var thread: pthread_t?
        }

        let name: String
        let context: Context
        let logger: Logger
        let wake: WakeSignal
        let timerSignal: TimerSignal
        let pending = LockedState(Pending())
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        // Set once by the loop thread before `started` is signalled, read only on that thread.
        nonisolated(unsafe) private var owner: Owner?
        // Commands of the batch being run that have not run yet; only the loop thread uses it.
        nonisolated(unsafe) private var batchRemaining = 0

        init(name: String, context: Context, logger: Logger) throws {
            self.name = name
            self.context = context
            self.logger = logger
            self.wake = try WakeSignal()
            self.timerSignal = try TimerSignal()
        }

        var isStopping: Bool { pending.withLock { $0.stopping } }

        func waitUntilStarted() { started.wait() }

        func ownerIfOnLoopThread() -> Owner? {
            let thread = pending.withLock { $0.thread }
            guard let thread, pthread_equal(thread, pthread_self()) != 0 else { return nil }
            return owner
        }

        /// The owner, when called on the loop thread while no commands wait and the loop is not
        /// stopping: the caller may then run a command in place without reordering commands.
        func ownerIfIdleOnLoopThread() -> Owner? {
            let idle = pending.withLock { state in
                guard let thread = state.thread, pthread_equal(thread, pthread_self()) != 0 else { return false }
                return state.commands.isEmpty && !state.stopping
            }
            return idle && batchRemaining == 0 ? owner : nil
        }

        func enqueue<Commands: Collection>(_ commands: Commands) -> Bool where Commands.Element == Command {
            let (accepted, needsWake) = pending.withLock { state -> (Bool, Bool) in
                guard !state.stopping else { return (false, false) }
                state.commands.append(contentsOf: commands)
                // The loop thread itself needs no wake-up: it looks for commands before it blocks.
                if let thread = state.thread, pthread_equal(thread, pthread_self()) != 0 { return (true, false) }
                defer { state.wakePending = true }
                return (true, !state.wakePending)
            }
            if needsWake { wake.wake() }
            return accepted
        }

        func stop() {
            let (alreadyStopping, onLoopThread) = pending.withLock { state in
                defer { state.stopping = true }
                return (state.stopping, state.thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false)
            }
            if !alreadyStopping { wake.wake() }
            guard !onLoopThread else { return }
            finished.wait()
            finished.signal()  // let any other caller of stop() through as well
        }

        /// Names the calling thread after the loop in the kernel — what `top -H`, `perf` and
        /// `/proc/PID/task/*/comm` show (Foundation's `Thread.name` does not reach it here) —
        /// without the `ganglion.` prefix and cut to the 15 bytes the kernel keeps.
        static func nameCurrentThread(_ name: String) {
            let short = name.hasPrefix("ganglion.") ? name.dropFirst("ganglion.".count) : Substring(name)
            let bytes = Array(short.utf8.prefix(15))
            let file = open("/proc/thread-self/comm", O_WRONLY)
            guard file >= 0 else { return }  // no procfs: the thread keeps its inherited name
            defer { close(file) }
            _ = bytes.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
        }

        /// The loop thread's body.
        func run() {
            Self.nameCurrentThread(name)
            let owner = Owner(loopName: name, context: context, logger: logger, timerSignal: timerSignal)
            self.owner = owner
            pending.withLock { $0.thread = pthread_self() }
            started.signal()
            var stopping = false
            while !stopping {
                // Commands the loop queued for itself run without waiting in the poll.
                let queued = pending.withLock { !$0.commands.isEmpty }
                do {
                    try owner.pollOnce(wake: wake, block: !queued)
                } catch {
                    logger.error("socket loop poll failed", metadata: ["ganglion.loop": "\(name)", "error": "\(error)"])
                }
                owner.runDueTimers()
                let (commands, stop) = pending.withLock { state in
                    defer { state.commands = []; state.wakePending = false }
                    return (state.commands, state.stopping)
                }
                batchRemaining = commands.count
                for command in commands {
                    batchRemaining -= 1
                    command(owner)
                }
                stopping = stop
            }
            // Commands queued before stop() were accepted: run them before the sockets close.
            let late = pending.withLock { state in defer { state.commands = [] }; return state.commands }
            for command in late { command(owner) }
            owner.closeAll()
            self.owner = nil
            finished.signal()
        }
    }
}
