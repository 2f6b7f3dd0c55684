import Synchronization

/// What a stream's hub hands to its one reader (``PartitionStream``): batches and ticks in the
/// order they came, at most `limit` waiting — past it the newest are dropped (the reader finds the
/// gap and fetches it) — until ``finish()`` or the reader's cancellation. A lock and one waiting
/// continuation, specialised for its one element type: the hop from the socket thread to the
/// reader is on every event's path.
final class StreamDelivery: Sendable {
    private struct State: ~Copyable {
        var buffer: [PartitionStream.Event] = []
        /// Where the oldest waiting event is in `buffer` (taken ones are removed in bulk).
        var head = 0
        var waiter: UnsafeContinuation<PartitionStream.Event?, Never>?
        var finished = false

        var isEmpty: Bool { head == buffer.count }

        mutating func take() -> PartitionStream.Event {
            let event = buffer[head]
            head += 1
            if head == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64 && head * 2 >= buffer.count {
                buffer.removeFirst(head)
                head = 0
            }
            return event
        }
    }

    private let state = Mutex(State())
    /// How many events may wait for the reader.
    let limit: Int

    /// A delivery holding at most `limit` events for its reader.
    init(limit: Int) { self.limit = max(1, limit) }

    /// Hands `event` to the reader: at once if it waits, else queued (dropped when `limit` events
    /// wait already, or after ``finish()``).
    func yield(_ event: PartitionStream.Event) {
        let waiter: UnsafeContinuation<PartitionStream.Event?, Never>? = state.withLock { state in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            if state.buffer.count - state.head < limit { state.buffer.append(event) }
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// Ends the delivery: the reader gets what waits, then nil.
    func finish() {
        let waiter: UnsafeContinuation<PartitionStream.Event?, Never>? = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.isEmpty ? state.waiter : nil
        }
        waiter?.resume(returning: nil)
    }

    /// The next event; nil once finished and drained, or when the reader's task is cancelled
    /// (which also ends the delivery). One reader at a time.
    func next() async -> PartitionStream.Event? {
        // An event already waiting is taken without suspending.
        let ready: PartitionStream.Event?? = state.withLock { state in
            if !state.isEmpty { return .some(state.take()) }
            return state.finished ? .some(nil) : nil
        }
        if let ready { return ready }
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<PartitionStream.Event?, Never>) in
                let now: PartitionStream.Event?? = state.withLock { state in
                    if !state.isEmpty { return .some(state.take()) }
                    if state.finished { return .some(nil) }
                    precondition(state.waiter == nil, "a PartitionStream is read by one reader at a time")
                    state.waiter = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The reader's task was cancelled: the delivery ends, a waiting reader gets nil.
    private func cancel() {
        let waiter: UnsafeContinuation<PartitionStream.Event?, Never>? = state.withLock { state in
            state.finished = true
            state.buffer = []
            state.head = 0
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }
}
