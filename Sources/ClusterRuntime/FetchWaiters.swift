import ClusterCore
import Foundation

/// Fetches that found nothing and asked to wait (`max_wait_ms`): they are answered as soon as
/// their partition gets new records, or empty at their deadline.
final class FetchWaiters: @unchecked Sendable {
    // `waiting` is guarded by `lock`.
    private struct Waiter {
        let deadline: ContinuousClock.Instant
        let retry: @Sendable (_ expired: Bool) -> Void
    }

    private let lock = NSLock()
    private var waiting: [TopicPartition: [Waiter]] = [:]
    /// The most fetches that may wait at once; beyond it they are answered at once.
    let limit = 10_000
    private var count = 0

    /// Parks a fetch; false when too many are waiting (answer it now).
    func park(_ partition: TopicPartition, until deadline: ContinuousClock.Instant, retry: @escaping @Sendable (_ expired: Bool) -> Void) -> Bool {
        lock.withLock {
            guard count < limit else { return false }
            waiting[partition, default: []].append(Waiter(deadline: deadline, retry: retry))
            count += 1
            return true
        }
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

    /// Answers the fetches whose wait is over.
    func expire(now: ContinuousClock.Instant) {
        let expired: [Waiter] = lock.withLock {
            var result: [Waiter] = []
            for (partition, list) in waiting {
                let (late, early) = (list.filter { $0.deadline <= now }, list.filter { $0.deadline > now })
                guard !late.isEmpty else { continue }
                result += late
                waiting[partition] = early.isEmpty ? nil : early
            }
            count -= result.count
            return result
        }
        for waiter in expired { waiter.retry(true) }
    }
}
