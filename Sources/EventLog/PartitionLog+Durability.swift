import Foundation

/// Someone waiting for offsets below `target` to be fsynced.
struct DurabilityWaiter {
    let target: Int64
    let notify: @Sendable (Result<Void, any Error>) -> Void
}

extension PartitionLog {
    /// Calls `notify` once everything below `target` is fsynced (at once if it already is). The
    /// log's flusher fsyncs for it (group commit: one fsync serves every waiter at the time).
    func whenDurable(_ target: Int64, notify: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        state.lock()
        if durableOffset >= target {
            state.unlock()
            notify(.success(()))
        } else if let syncFailure {
            state.unlock()
            notify(.failure(syncFailure))
        } else if deleted {
            state.unlock()
            notify(.failure(LogError(.deleted, "the log in \(directory) was deleted before offset \(target - 1) was durable")))
        } else {
            waiters.append(DurabilityWaiter(target: target, notify: notify))
            configuration.flusher.requestFlush(self)
            state.unlock()
        }
    }

    /// Blocks until everything below `target` is fsynced.
    func waitUntilDurable(_ target: Int64) throws {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<Void, any Error> = .success(())
        whenDurable(target) { result in
            outcome = result
            done.signal()
        }
        done.wait()
        try outcome.get()
    }

    /// Under the interval policy, asks the flusher to fsync one interval after the first append
    /// not yet covered by a flush (call under the lock, after an append).
    func scheduleIntervalFlush() {
        guard case .interval(let interval) = configuration.durability, !intervalFlushScheduled else { return }
        intervalFlushScheduled = true
        let nanoseconds = UInt64(interval.components.seconds) * 1_000_000_000 + UInt64(interval.components.attoseconds / 1_000_000_000)
        configuration.flusher.scheduleFlush(self, at: DispatchTime.now().uptimeNanoseconds + nanoseconds)
    }

    /// One turn of the flusher for this log (on a flusher thread, never two at once): fsyncs the
    /// active segment if appenders wait or an interval flush is due and something is unsynced,
    /// then tells the waiters it satisfied (or fails them all once the log is poisoned), and asks
    /// the flusher again for waiters that arrived during the fsync.
    func flushForFlusher() {
        state.lock()
        let intervalDue = intervalFlushScheduled
        intervalFlushScheduled = false  // only the timer queues a log with no waiters
        guard syncFailure == nil, !deleted, durableOffset < endOffset, !waiters.isEmpty || intervalDue else {
            let done = takeFinishedWaiters()
            state.unlock()
            done.notify()
            return
        }
        let flushedTo = endOffset
        let active = segments.last!
        state.unlock()
        var failure: (any Error)?
        do { try syncSegment(active) } catch { failure = error }
        state.lock()
        syncs &+= 1
        if let failure {
            poison(after: failure)
        } else {
            durableOffset = max(durableOffset, flushedTo)
        }
        let done = takeFinishedWaiters()
        if !waiters.isEmpty { configuration.flusher.requestFlush(self) }
        state.unlock()
        done.notify()
    }

    /// fsyncs a segment, or fails as the injected faults say.
    func syncSegment(_ segment: Segment) throws {
        if let faults = configuration.faults, faults.takeSyncFailure() {
            throw LogError(.io, "fsync of \(directory) failed: EIO (injected)")
        }
        try segment.sync()
    }

    /// Removes and returns the waiters that are answered: those now durable, or every one once
    /// the log is poisoned or deleted. Call under the lock.
    private func takeFinishedWaiters() -> FinishedWaiters {
        if let failure: LogError = syncFailure ?? (deleted ? LogError(.deleted, "the log in \(directory) was deleted") : nil) {
            defer { waiters = [] }
            return FinishedWaiters(durable: [], failed: waiters, failure: failure)
        }
        guard waiters.contains(where: { $0.target <= durableOffset }) else { return FinishedWaiters() }
        let ready = waiters.filter { $0.target <= durableOffset }
        waiters.removeAll { $0.target <= durableOffset }
        return FinishedWaiters(durable: ready)
    }
}

/// Waiters answered by one flush, notified once the log's lock is released.
struct FinishedWaiters {
    var durable: [DurabilityWaiter] = []
    var failed: [DurabilityWaiter] = []
    var failure: LogError?

    func notify() {
        for waiter in durable { waiter.notify(.success(())) }
        if let failure { for waiter in failed { waiter.notify(.failure(failure)) } }
    }
}
