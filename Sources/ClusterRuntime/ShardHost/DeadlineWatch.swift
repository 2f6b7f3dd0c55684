import Foundation

/// Attempt deadlines of one shard, checked by a single loop every 10 ms while any is pending —
/// instead of a sleeping timer task per handler attempt — and polls that keep deadlines of
/// their own (a batch's).
final class DeadlineWatch: @unchecked Sendable {
    // `pending`, `next` and `looping` are guarded by `lock`.
    private let lock = NSLock()
    private var pending: [Int: Entry] = [:]
    private var polls: [Int: @Sendable (ContinuousClock.Instant) -> Bool] = [:]
    private var fired: Set<Int> = []
    private var next = 0
    private var looping = false

    /// A watch: what to call at its deadline, and the stage that follows it, if any.
    private struct Entry {
        var deadline: ContinuousClock.Instant
        var expire: @Sendable () -> Void
        var then: (deadline: ContinuousClock.Instant, expire: @Sendable () -> Void)?
    }

    /// One watch of two stages (an attempt's deadline, then its abandonment): `expire` at
    /// `deadline`, then `abandon` at `later`, each unless ``end(_:)`` comes first (which tells
    /// whether the first stage fired).
    func watch(until deadline: ContinuousClock.Instant, expire: @escaping @Sendable () -> Void,
               thenUntil later: ContinuousClock.Instant, abandon: @escaping @Sendable () -> Void) -> Int {
        add(Entry(deadline: deadline, expire: expire, then: (later, abandon)))
    }

    /// Calls `check` with the time on every round (every 10 ms) until it returns false: one
    /// registration for many deadlines that the caller keeps itself (a batch's running entry).
    func poll(_ check: @escaping @Sendable (ContinuousClock.Instant) -> Bool) {
        let start = lock.withLock { () -> Bool in
            next += 1
            polls[next] = check
            defer { looping = true }
            return !looping
        }
        if start { Task.detached { await self.loop() } }
    }

    private func add(_ entry: Entry) -> Int {
        let (id, start) = lock.withLock { () -> (Int, Bool) in
            next += 1
            pending[next] = entry
            defer { looping = true }
            return (next, !looping)
        }
        if start { Task.detached { await self.loop() } }
        return id
    }

    /// Ends watch `id`; true when its deadline had passed (it fired).
    func end(_ id: Int) -> Bool {
        lock.withLock {
            pending[id] = nil
            return fired.remove(id) != nil
        }
    }

    private func loop() async {
        while true {
            try? await Task.sleep(for: .milliseconds(10))
            let now = ContinuousClock.now
            let checks = lock.withLock { polls }
            let over = checks.filter { !$0.value(now) }.map(\.key)
            let (due, done) = lock.withLock { () -> ([@Sendable () -> Void], Bool) in
                for id in over { polls[id] = nil }
                var due: [@Sendable () -> Void] = []
                for (id, entry) in pending where entry.deadline <= now {
                    due.append(entry.expire)
                    if let then = entry.then {
                        // The first stage fired: the second is watched from now on.
                        fired.insert(id)
                        pending[id] = Entry(deadline: then.deadline, expire: then.expire)
                        if then.deadline <= now {
                            due.append(then.expire)
                            pending[id] = nil
                        }
                    } else {
                        fired.insert(id)
                        pending[id] = nil
                    }
                }
                let idle = pending.isEmpty && polls.isEmpty
                if idle { looping = false }
                return (due, idle)
            }
            for expire in due { expire() }
            if done { return }
        }
    }
}
