import Foundation

/// A loop's thread as a task executor, and commands that run in place on it.
///
/// Code that must reach a loop's sockets without a thread hop (the lowest-latency path) runs on the
/// loop's thread: a task started with `Task(executorPreference: loop)` or code inside
/// `withTaskExecutorPreference(loop)` runs its jobs as loop commands, so what it hands to the loop
/// with ``SocketLoop/executeInPlace(_:)`` runs at once, and what the loop resumes (a continuation
/// resumed by a socket handler) runs in the same loop iteration instead of waking another thread.
/// Such code delays the loop's sockets while it runs: keep it short and never block in it.
extension SocketLoop: TaskExecutor {
    /// Runs `job` on the loop thread; a job arriving after ``stop()`` runs on the global
    /// concurrent executor instead, so no task is stranded.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        if !execute({ _ in job.runSynchronously(on: executor) }) {
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
        }
    }

    /// Suspends until `deadline`, woken by the loop's own timer (to the microsecond). A task that
    /// prefers this loop resumes in the same loop iteration, with no other thread woken: the
    /// cheapest way to pace work on a socket thread. Returns early when the task is cancelled or
    /// the loop stops (at once on a stopped loop: callers pacing a loop check what they send to).
    public func sleep(until deadline: ContinuousClock.Instant) async {
        let wake = WakeOnce()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                wake.set(continuation)
                let accepted = executeInPlace { owner in owner.schedule(at: deadline, runsOnStop: true) { _ in wake.resume() } }
                if !accepted { wake.resume() }
            }
        } onCancel: {
            wake.resume()
        }
    }

    /// Runs `command` now when called on the loop thread with no commands waiting (so commands
    /// still run in the order they were handed over); otherwise queues it like ``execute(_:)``.
    /// Returns `false` if the loop has stopped (the command is then dropped).
    @discardableResult
    public func executeInPlace(_ command: @escaping Command) -> Bool {
        if let owner = core.ownerIfIdleOnLoopThread() {
            command(owner)
            return true
        }
        return execute(command)
    }
}

/// Resumes a sleeper once, whichever comes first: its timer, the loop's stop or cancellation
/// (which may also come before the continuation is set).
private final class WakeOnce: @unchecked Sendable {
    // Both fields are guarded by `lock`.
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?
    private var woken = false

    func set(_ continuation: CheckedContinuation<Void, Never>) {
        let now: Bool = lock.withLock {
            if woken { return true }
            self.continuation = continuation
            return false
        }
        if now { continuation.resume() }
    }

    func resume() {
        let waiting: CheckedContinuation<Void, Never>? = lock.withLock {
            guard !woken else { return nil }
            woken = true
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume()
    }
}
