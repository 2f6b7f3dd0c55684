/// Records queued for the changelog and not applied yet. A shard may start a key's next event as
/// soon as the last one's records are queued (its batch need not be durable first): batches are
/// appended in the order they were queued and a failed one fails every later one, so an event's
/// changes are never durable without those of the key's earlier events. Until the queued records
/// are applied, the key's next event starts from the state they set, an event whose id they hold
/// is a redelivery, and the ids they evict from the key's window are not evicted again.
extension ShardChangelog {
    /// What a key's queued records change (part of its ``ShardChangelog/Entity``; emptied when
    /// they are applied or the key is passivated).
    struct QueuedKey: Sendable {
        /// The newest state the queued records set (nil: they set none; `.some(nil)`: deleted).
        var state: [UInt8]??
        /// The ids the queued records add to the key's window, oldest first (one per event queued).
        var ids: [String] = []
        /// The ids the queued records evict from the window.
        var evicted: Set<String> = []

        /// Whether no records of the key are queued (an entry kept for reuse).
        var isEmpty: Bool { ids.isEmpty && evicted.isEmpty }

        /// A handled-id record queued before is applied.
        mutating func unqueue(id: String, added: Bool) {
            if added {
                if ids.first == id {
                    ids.removeFirst()
                } else if let index = ids.firstIndex(of: id) {
                    ids.remove(at: index)
                }
            } else {
                evicted.remove(id)
            }
            if isEmpty { state = nil }
        }

        /// The ids an event added after the queued records evicts from a window holding
        /// `durable` (oldest first): the oldest of the window as it will be, past `limit - 1`.
        /// Evictions take the oldest first, so the evicted ids lead `durable`, then `ids`.
        func evictions(from durable: [HandledID], limit: Int) -> [String] {
            var durableStart = 0, queuedStart = 0
            if !evicted.isEmpty {
                while durableStart < durable.count, evicted.contains(durable[durableStart].id) { durableStart += 1 }
                while queuedStart < ids.count, evicted.contains(ids[queuedStart]) { queuedStart += 1 }
            }
            let excess = durable.count - durableStart + ids.count - queuedStart + 1 - limit
            guard excess > 0 else { return [] }
            let fromDurable = min(excess, durable.count - durableStart)
            var out = durable[durableStart..<durableStart + fromDurable].map(\.id)
            out += ids[queuedStart..<queuedStart + excess - fromDurable]
            return out
        }
    }

    /// Notes `records` (made here by ``records(for:committableOffset:)``) as queued for the
    /// changelog; ``apply(_:from:)`` of the same records undoes it. Queue only records that will
    /// be applied or whose failure ends the shard: records queued and never applied would leave
    /// their key's view here as they set it.
    public mutating func queue(_ records: [Record]) {
        // An event's records share its key (outbox records, which have none, between them): one
        // lookup for each run of them, its entity changed in place.
        var cache: (key: String, index: Dictionary<String, Entity>.Index)?
        for record in records {
            guard let meaning = record.meaning, let key = meaning.entityKey else { continue }
            // Settled before another key is looked up (adding an entity moves the indices).
            if let last = cache, last.key != key { settle(last.index) }
            let slot = entityIndex(key, cache: &cache)
            switch meaning {
            case .state:
                entities.values[slot].queued.state = .some(record.value)
            case .handledID(_, let id):
                if record.value != nil {
                    entities.values[slot].queued.ids.append(id)
                } else {
                    entities.values[slot].queued.evicted.insert(id)
                }
            case .outbox, .forwarded:
                break
            }
        }
        if let last = cache { settle(last.index) }
    }

    /// An entry that queues no event keeps no state: a timer's firing records no handled id, so
    /// nothing applied would end it (and the key runs nothing else until it is durable).
    private mutating func settle(_ slot: Dictionary<String, Entity>.Index) {
        entities.values[slot].settleQueued()
    }

    /// Whether records of `key` are queued and not applied.
    public func isQueued(_ key: String) -> Bool { entities[key].map { !$0.queued.isEmpty } ?? false }
}

extension ShardChangelog.Meaning {
    /// The entity key the record belongs to (nil: an outbox record, which belongs to none).
    var entityKey: String? {
        switch self {
        case .state(let key), .handledID(let key, _): key
        case .outbox, .forwarded: nil
        }
    }
}
