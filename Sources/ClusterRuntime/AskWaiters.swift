import ClusterCore
import EventLog
import Foundation
import GanglionWire

/// Asks waiting for their replies, by request id, bounded per node. A batch appended to a
/// replies topic is decoded once, in the produce path, and each reply in it is handed to its
/// waiter; no waiter reads or decodes the log, and none polls.
final class AskWaiters: @unchecked Sendable {
    // `waiting` and `count` are guarded by `lock`.
    private enum Slot {
        /// Registered; the reply (if it came before the asker waited) is kept here.
        case pending(EventEnvelope?)
        case waiting(CheckedContinuation<EventEnvelope?, Never>)
    }

    private let lock = NSLock()
    private var waiting: [String: Slot] = [:]
    /// The most asks that may wait at once.
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Whether no ask waits (the produce path skips decoding then).
    var isEmpty: Bool { lock.withLock { waiting.isEmpty } }

    /// Registers an ask before its request is stored; false when `limit` asks already wait or one
    /// with the same id does.
    func register(_ id: String) -> Bool {
        lock.withLock {
            guard waiting.count < limit, waiting[id] == nil else { return false }
            waiting[id] = .pending(nil)
            return true
        }
    }

    /// Forgets a registered ask whose request could not be stored.
    func cancel(_ id: String) { _ = lock.withLock { waiting.removeValue(forKey: id) } }

    /// The reply to the registered ask `id`, or nil at `deadline`; the ask is forgotten after.
    func reply(to id: String, until deadline: ContinuousClock.Instant) async -> EventEnvelope? {
        await withCheckedContinuation { continuation in
            let early: EventEnvelope?? = lock.withLock {
                guard case .pending(let reply) = waiting[id] else { return .some(nil) }
                if let reply {
                    waiting[id] = nil
                    return .some(reply)
                }
                waiting[id] = .waiting(continuation)
                return .none
            }
            if let early { return continuation.resume(returning: early) }
            let delay = ContinuousClock.now.duration(to: deadline)
            let nanoseconds = max(0, delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in
                finish(id, with: nil)
            }
        }
    }

    /// Hands the replies in an appended batch of a replies topic to their waiters.
    func deliver(_ batch: UnsafeRawBufferPointer) {
        guard !isEmpty, let records = try? RecordDecoder.records(in: batch) else { return }
        for record in records {
            guard let value = record.value, let event = try? EventEnvelope(serializedBytes: value),
                  event.type == AgentAsk.replyType, !event.causationID.isEmpty else { continue }
            finish(event.causationID, with: event)
        }
    }

    /// Resumes (or, before it waits, stores the reply of) the ask `id`; a later call is ignored.
    private func finish(_ id: String, with reply: EventEnvelope?) {
        let continuation: CheckedContinuation<EventEnvelope?, Never>? = lock.withLock {
            switch waiting[id] {
            case .waiting(let continuation)?:
                waiting[id] = nil
                return continuation
            case .pending(nil)? where reply != nil:
                waiting[id] = .pending(reply)
                return nil
            default:
                return nil
            }
        }
        continuation?.resume(returning: reply)
    }
}
