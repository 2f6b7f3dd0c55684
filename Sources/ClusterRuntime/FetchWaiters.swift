import ClusterCore
import Foundation

/// Fetches that found nothing and asked to wait (`max_wait_ms`): they are answered as soon as
/// their partition gets new records, or empty at their deadline. Nothing polls for deadlines:
/// ``arm`` is asked for an ``expire(now:)`` at the earliest one whenever that moves earlier, and
/// each expiry asks for the next, so an idle node's socket thread sleeps.
final class FetchWaiters: @unchecked Sendable {
    // `waiting`, `count` and `armed` are guarded by `lock`.
    private struct Waiter {
        let deadline: ContinuousClock.Instant
        let retry: @Sendable (_ expired: Bool) -> Void
    }

    private let lock = NSLock()
    private var waiting: [TopicPartition: [Waiter]] = [:]
    /// The most fetches that may wait at once; beyond it they are answered at once.
    let limit = 10_000
    private var count = 0
    /// The deadline an ``expire(now:)`` is due at (nil: none is due).
    private var armed: ContinuousClock.Instant?
    /// Runs ``expire(now:)`` at a deadline (the node schedules it on its socket loop); set once,
    /// before any fetch waits. Without it nothing expires by itself.
    var arm: (@Sendable (ContinuousClock.Instant) -> Void)?

    /// Parks a fetch; false when too many are waiting (answer it now).
    func park(_ partition: TopicPartition, until deadline: ContinuousClock.Instant, retry: @escaping @Sendable (_ expired: Bool) -> Void) -> Bool {
        let earliest: Bool? = lock.withLock {
            guard count < limit else { return nil }
            waiting[partition, default: []].append(Waiter(deadline: deadline, retry: retry))
            count += 1
            guard armed.map({ deadline < $0 }) ?? true else { return false }
            armed = deadline
            return true
        }
        guard let earliest else { return false }
        if earliest { arm?(deadline) }
        return true
    }

    /// New records in `partition`: answers its waiting fetches.
    func wake(_ partition: TopicPartition) {
        let woken: [Waiter] = lock.withLock {
            guard let list = waiting.removeValue(forKey: partition) else { return [] }
            count -= list.count
            return list
        }
        for waiter in woken { waiter.retry(false) }
    }

    /// Answers the fetches whose wait is over, and asks for the next expiry at the earliest
    /// deadline left (unless one is already due before it: an expiry asked for a deadline that a
    /// later, earlier fetch moved forward still comes, and finds nothing to do).
    func expire(now: ContinuousClock.Instant) {
        var next: ContinuousClock.Instant?
        let expired: [Waiter] = lock.withLock {
            var result: [Waiter] = []
            for (partition, list) in waiting {
                let (late, early) = (list.filter { $0.deadline <= now }, list.filter { $0.deadline > now })
                guard !late.isEmpty else { continue }
                result += late
                waiting[partition] = early.isEmpty ? nil : early
            }
            count -= result.count
            if armed.map({ $0 <= now }) ?? true {
                next = waiting.values.lazy.flatMap { $0 }.map(\.deadline).min()
                armed = next
            }
            return result
        }
        if let next { arm?(next) }
        for waiter in expired { waiter.retry(true) }
    }
}
