import Foundation

/// The delivery ids a webhook has stored recently, so a redelivery (GitHub's "Redeliver", a
/// sender's retry after a lost answer) is stored once: at most `capacity` ids, each for at most
/// `window` seconds, oldest forgotten first. The node seeds it from the tail of the webhook's
/// topic before the first delivery after a start, so the guarantee holds across restarts within
/// the same bounds. Time comes in as a value (seconds since the epoch).
final class WebhookDeliveries: @unchecked Sendable {
    /// What a delivery id's claim found.
    enum Claim: Equatable {
        /// Not seen: store it, then ``complete(_:at:now:)`` or ``release(_:)``.
        case new
        /// Stored before (where, when this node stored it since its start).
        case stored(StoredEvent?)
        /// Another request with this id is being stored right now.
        case pending
    }

    private struct Entry {
        var stored: StoredEvent?
        var pending: Bool
        var at: Int64
        /// Which record of `order` stands for this entry.
        var serial: UInt64 = 0
    }

    let capacity: Int
    let window: Int64
    /// Held while the ids are read from the topic (once).
    private let seeding = NSLock()
    // Everything below is guarded by `lock`.
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var order: [(id: String, at: Int64, serial: UInt64)] = []
    private var head = 0
    private var serial: UInt64 = 0
    private var seeded = false

    init(capacity: Int, windowSeconds: Int) {
        self.capacity = max(1, capacity)
        window = Int64(windowSeconds)
    }

    /// Claims `id` for storing, unless it was stored (or is being stored) already.
    func claim(_ id: String, now: Int64) -> Claim {
        lock.withLock {
            evict(now: now)
            if let entry = entries[id] { return entry.pending ? .pending : .stored(entry.stored) }
            insert(id, Entry(stored: nil, pending: true, at: now))
            return .new
        }
    }

    /// Records that the claimed `id` was stored at `location`.
    func complete(_ id: String, at location: StoredEvent, now: Int64) {
        lock.withLock {
            if entries[id] != nil {
                entries[id]?.stored = location
                entries[id]?.pending = false
            } else {
                // Forgotten while it was being stored (a flood beyond the capacity): remembered anew.
                insert(id, Entry(stored: location, pending: false, at: now))
            }
        }
    }

    /// Gives up a claim whose store failed, so the sender's retry is stored.
    func release(_ id: String) {
        lock.withLock { if entries[id]?.pending == true { entries[id] = nil } }
    }

    /// Runs `load` once (the first call) and remembers the ids it returns as stored; calls made
    /// while it runs wait for it, so no delivery is claimed before the ids are known.
    func seedOnce(now: Int64, _ load: () -> [String]) {
        seeding.withLock {
            guard !lock.withLock({ seeded }) else { return }
            let ids = load()
            lock.withLock {
                for id in ids.suffix(capacity) where entries[id] == nil { insert(id, Entry(stored: nil, pending: false, at: now)) }
                seeded = true
            }
        }
    }

    /// How many ids are remembered.
    var count: Int { lock.withLock { entries.count } }

    private func insert(_ id: String, _ entry: Entry) {
        serial += 1
        var entry = entry
        entry.serial = serial
        entries[id] = entry
        order.append((id, entry.at, serial))
        while entries.count > capacity, head < order.count { forgetOldest() }
    }

    private func evict(now: Int64) {
        while head < order.count, order[head].at < now - window { forgetOldest() }
    }

    private func forgetOldest() {
        let oldest = order[head]
        head += 1
        if entries[oldest.id]?.serial == oldest.serial { entries[oldest.id] = nil }
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
