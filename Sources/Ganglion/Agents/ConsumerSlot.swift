import Foundation

/// The group consumer of a running agent type, for closures made before it exists (its
/// partitions' deliveries and its shards' failure handlers): they wait here until it is set.
final class ConsumerSlot: @unchecked Sendable {
    // `consumer` and `waiters` are guarded by `lock`.
    private let lock = NSLock()
    private var consumer: GroupConsumer?
    private var waiters: [CheckedContinuation<GroupConsumer, Never>] = []

    /// Sets the consumer and wakes whoever waits for it.
    func set(_ consumer: GroupConsumer) {
        let waiting = lock.withLock { () -> [CheckedContinuation<GroupConsumer, Never>] in
            self.consumer = consumer
            defer { waiters = [] }
            return waiters
        }
        for waiter in waiting { waiter.resume(returning: consumer) }
    }

    /// The consumer, once set.
    var value: GroupConsumer {
        get async {
            await withCheckedContinuation { continuation in
                let ready = lock.withLock { () -> GroupConsumer? in
                    if let consumer { return consumer }
                    waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }
}
