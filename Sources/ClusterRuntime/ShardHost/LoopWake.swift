import Foundation

/// Ends a loop's wait early: a loop that wakes on a tick to look for work waits with
/// ``wait(upTo:atLeast:)`` and whoever makes work for it calls ``signal()`` — the agent host's
/// committer (woken when a shard finished every input it held), a shard's timer loop (woken when
/// a timer is scheduled sooner than it would look). A signal given while nobody waits ends the
/// next wait.
public final class LoopWake: @unchecked Sendable {
    // `signalled` and `waiter` are guarded by `lock`.
    private let lock = NSLock()
    private var signalled = false
    private var waiter: CheckedContinuation<Void, Never>?

    /// A wake with no signal given.
    public init() {}

    /// Ends the wait in progress, or the next one.
    public func signal() {
        let waiting = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            defer { waiter = nil }
            if waiter == nil { signalled = true }
            return waiter
        }
        waiting?.resume()
    }

    /// Returns `maximum` from now, or once signalled but no sooner than `minimum`, or at once
    /// when the task is cancelled. One waiter at a time.
    public func wait(upTo maximum: Duration, atLeast minimum: Duration = .zero) async {
        if minimum > .zero { try? await Task.sleep(for: minimum) }
        let tick = Task {
            try? await Task.sleep(for: maximum - minimum)
            if !Task.isCancelled { self.signal() }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = lock.withLock { () -> Bool in
                    if signalled || Task.isCancelled { return true }
                    waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
        tick.cancel()
        lock.withLock { signalled = false }
    }
}
