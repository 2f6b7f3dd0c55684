import Foundation

/// A host's budget of handler attempts running at once across all its shards — what a node's
/// agents may have in flight (model calls, connections) — taken in arrival order. An attempt
/// gives its slot back when it ends: when its handler returns, or when it is abandoned (a
/// handler that ignores cancellation keeps running outside the budget).
public final class HandlerSlots: @unchecked Sendable {
    // `free` and `waiting` are guarded by `lock`.
    private let lock = NSLock()
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var head = 0
    /// Attempts allowed at once.
    public let limit: Int

    /// A budget of `limit` attempts at once.
    public init(limit: Int) {
        self.limit = max(1, limit)
        free = self.limit
    }

    /// Takes a slot, waiting for one to be given back when none is free.
    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = lock.withLock { () -> Bool in
                guard free > 0 else {
                    waiting.append(continuation)
                    return false
                }
                free -= 1
                return true
            }
            if granted { continuation.resume() }
        }
    }

    /// Gives a slot back (to the longest waiter, if any).
    func release() {
        let next = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            guard head < waiting.count else {
                free += 1
                return nil
            }
            let next = waiting[head]
            head += 1
            if head == waiting.count {
                waiting = []
                head = 0
            }
            return next
        }
        next?.resume()
    }
}
