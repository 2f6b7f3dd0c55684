import Foundation

/// Someone waiting for offsets below `target` to be fsynced.
struct DurabilityWaiter {
    let target: Int64
    let notify: @Sendable (Result<Void, any Error>) -> Void
}

extension PartitionLog {
    /// Calls `notify` once everything below `target` is fsynced (at once if it already is).
    func whenDurable(_ target: Int64, notify: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        state.lock()
        if durableOffset >= target {
            state.unlock()
            notify(.success(()))
        } else if let syncFailure {
            state.unlock()
            notify(.failure(syncFailure))
        } else if closed && !flusherRunning {
            state.unlock()
            notify(.failure(LogError(.closed, "the log in \(directory) closed before offset \(target - 1) was durable")))
        } else {
            waiters.append(DurabilityWaiter(target: target, notify: notify))
            state.broadcast()  // wake the flusher
            state.unlock()
        }
    }

    /// Blocks until everything below `target` is fsynced (group commit: one fsync serves every
    /// waiter at the time, and only the waiters it satisfies are woken).
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

    /// Starts the thread that fsyncs for waiters (group commit) and, under the interval policy,
    /// every interval. It holds the log only weakly between steps, drains the waiters after
    /// `close()`, and then ends.
    func startFlusher() {
        if case .interval(let duration) = configuration.durability {
            flushInterval = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            nextIntervalFlush = Date(timeIntervalSinceNow: flushInterval!)
        }
        flusherRunning = true
        let thread = Thread { [weak self] in
            while let log = self, log.flushStep() {}
        }
        thread.name = "ganglion.log.flusher"
        thread.start()
    }

    /// One step of the flusher: notify satisfied waiters, or fsync for the others or the
    /// interval, or wait (at most a second, so a dropped log is noticed). `false` when done.
    private func flushStep() -> Bool {
        state.lock()
        let ready = takeSatisfiedWaiters()
        if !ready.isEmpty {
            state.unlock()
            for waiter in ready { waiter.notify(.success(())) }
            return true
        }
        if let syncFailure, !waiters.isEmpty {
            let failed = waiters
            waiters = []
            state.unlock()
            for waiter in failed { waiter.notify(.failure(syncFailure)) }
            return true
        }
        let intervalDue = flushInterval != nil && Date() >= nextIntervalFlush && syncFailure == nil
        if waiters.isEmpty && !(intervalDue && durableOffset < endOffset) {
            if closed {
                flusherRunning = false
                state.unlock()
                return false
            }
            if intervalDue { nextIntervalFlush = Date(timeIntervalSinceNow: flushInterval!) }
            let wake = flushInterval == nil ? Date(timeIntervalSinceNow: 1) : min(nextIntervalFlush, Date(timeIntervalSinceNow: 1))
            _ = state.wait(until: wake)
            state.unlock()
            return true
        }
        let flushedTo = endOffset
        let active = segments.last!
        state.unlock()
        var failure: (any Error)?
        do { try syncSegment(active) } catch { failure = error }
        state.lock()
        syncs &+= 1
        if let interval = flushInterval { nextIntervalFlush = Date(timeIntervalSinceNow: interval) }
        if let failure { poison(after: failure) }
        if failure != nil {
            state.unlock()
            return true  // the next step fails every waiter
        }
        durableOffset = max(durableOffset, flushedTo)
        state.unlock()
        return true
    }

    /// fsyncs a segment, or fails as the injected faults say.
    func syncSegment(_ segment: Segment) throws {
        if let faults = configuration.faults, faults.takeSyncFailure() {
            throw LogError(.io, "fsync of \(directory) failed: EIO (injected)")
        }
        try segment.sync()
    }

    /// Removes and returns the waiters whose offsets are now durable.
    private func takeSatisfiedWaiters() -> [DurabilityWaiter] {
        guard waiters.contains(where: { $0.target <= durableOffset }) else { return [] }
        let ready = waiters.filter { $0.target <= durableOffset }
        waiters.removeAll { $0.target <= durableOffset }
        return ready
    }
}
