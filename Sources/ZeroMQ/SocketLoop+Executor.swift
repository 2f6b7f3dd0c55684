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
    /// cheapest way to pace work on a socket thread. Returns at once once the loop has stopped.
    public func sleep(until deadline: ContinuousClock.Instant) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let accepted = executeInPlace { owner in owner.schedule(at: deadline, runsOnStop: true) { _ in continuation.resume() } }
            if !accepted { continuation.resume() }
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
