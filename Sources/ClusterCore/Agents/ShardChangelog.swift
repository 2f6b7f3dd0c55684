/// An event an agent emitted, held in its shard's changelog (the outbox) until it is forwarded to
/// its topic. Its id is derived from the input event (``EmittedEventID``), so a resend after a
/// crash carries the same id.
public struct OutboxEntry: Hashable, Sendable {
    /// The emitted event's id.
    public var id: String
    /// Where it goes.
    public var topic: String
    /// Its partitioning key.
    public var key: [UInt8]?
    /// The encoded event.
    public var event: [UInt8]

    /// An outbox entry.
    public init(id: String, topic: String, key: [UInt8]?, event: [UInt8]) {
        self.id = id
        self.topic = topic
        self.key = key
        self.event = event
    }
}

/// A durable timer of one entity: when it fires, the agent's handler runs for its key (in order
/// with the key's events) with the timer's name and data.
public struct ShardTimer: Sendable, Hashable {
    /// The entity key.
    public var key: String
    /// The timer's name, unique per key (scheduling a name again replaces it).
    public var name: String
    /// When it fires, in milliseconds since the epoch.
    public var fireAt: Int64
    /// What the handler gets with it.
    public var data: [UInt8]

    /// A timer.
    public init(key: String, name: String, fireAt: Int64, data: [UInt8] = []) {
        self.key = key
        self.name = name
        self.fireAt = fireAt
        self.data = data
    }
}

/// A handler's change to its key's timers: schedule (or replace) one, or cancel it.
public enum TimerChange: Sendable, Hashable {
    /// Fire `name` at `fireAt` with `data`.
    case schedule(name: String, fireAt: Int64, data: [UInt8])
    /// Forget `name`.
    case cancel(name: String)
}

/// What handling one event did: the entity's new state (nil: deleted; absent: unchanged), what it
/// emitted, and the outcome recorded for a redelivery of the same event.
public struct HandledEvent: Sendable, Hashable {
    /// The input event's id.
    public var eventID: String
    /// The entity key.
    public var key: String
    /// The input's offset in the partition.
    public var offset: Int64
    /// The new state, when it changed (`.some(nil)` deletes it).
    public var newState: [UInt8]??
    /// Events emitted, in order.
    public var emitted: [OutboxEntry]
    /// The recorded outcome (a reply for `ask`, a decision summary).
    public var outcome: [UInt8]
    /// Timers the handler scheduled or cancelled for its key, in order.
    public var timerChanges: [TimerChange]
    /// The timer whose firing this was (nil for an input event): it is removed in the same batch,
    /// and no input offset moves.
    public var firedTimer: ShardTimer?

    /// A handled event.
    public init(eventID: String, key: String, offset: Int64, newState: [UInt8]??, emitted: [OutboxEntry], outcome: [UInt8] = [],
                timerChanges: [TimerChange] = [], firedTimer: ShardTimer? = nil) {
        self.timerChanges = timerChanges
        self.firedTimer = firedTimer
        self.eventID = eventID
        self.key = key
        self.offset = offset
        self.newState = newState
        self.emitted = emitted
        self.outcome = outcome
    }
}

/// The state of an agent shard as its compacted changelog partition holds it (DESIGN §2: "the batch
/// is the transaction"): entity states, the consumed offset, the outbox, and the recent event ids
/// handled per key (idempotency). Handling an event becomes one batch of keyed records — state,
/// handled ids, outbox entries and the offset together — so a crash never separates them; once
/// the outbox entries are forwarded, tombstones remove them. Replaying the records (after any
/// compaction, which keeps the newest record per key) rebuilds the same shard. Pure.
public struct ShardChangelog: Sendable, Hashable {
    /// Event ids remembered per key for recognising redeliveries.
    public let rememberedPerKey: Int
    /// Entity states by key (made from ``entities`` on each use: for tests and tools, not a
    /// handler's path, which reads ``state(of:)``).
    public var states: [String: [UInt8]] { entities.compactMapValues(\.state) }
    /// The state of `key` (nil: none, or passivated).
    public func state(of key: String) -> [UInt8]? { entities[key]?.state }
    /// The next input offset to consume (every event below it is handled).
    public private(set) var nextOffset: Int64
    /// Offsets at or above ``nextOffset`` already handled (events of other keys that finished while
    /// an older one still ran): a replay skips them whatever the window of remembered ids holds.
    public private(set) var handledAbove = HandledOffsets()
    /// Emitted events not yet forwarded, by id, with their order of emission.
    private var outbox: [String: (sequence: Int64, entry: OutboxEntry)] = [:]
    private var outboxSequence: Int64 = 0
    /// Everything kept per key, in one dictionary: an event's records look their key up once,
    /// where a dictionary per field (state, window, locations, queued changes, passivation) took
    /// one lookup each. Entries stay once made (their locations outlive passivation).
    var entities: [String: Entity] = [:]
    private var passivatedKeys = 0
    /// Pending timers by key, then name.
    public private(set) var timers: [String: [String: ShardTimer]] = [:]
    /// The same timers in firing order (earliest first), so finding the due ones reads only those.
    private var timerQueue: [ShardTimer] = []
    /// The idempotent producer id that writes this changelog (its epoch fences older owners).
    public private(set) var writerID: Int64?

    /// A remembered id: its outcome, where its record is (nil: applied without its offset), and
    /// its hash, so a search of the window compares numbers before strings.
    struct HandledID: Hashable, Sendable {
        var id: String
        var outcome: [UInt8]
        /// The offset of the record holding it (an id record, or a whole-window record).
        var offset: Int64?
        let hash: Int

        init(id: String, outcome: [UInt8], offset: Int64? = nil) {
            self.id = id
            self.outcome = outcome
            self.offset = offset
            hash = id.hashValue
        }

        /// The same id and outcome (where their records are does not count).
        static func == (lhs: HandledID, rhs: HandledID) -> Bool { lhs.id == rhs.id && lhs.outcome == rhs.outcome }

        func hash(into hasher: inout Hasher) {
            hasher.combine(id)
            hasher.combine(outcome)
        }
    }

    /// One key as the changelog holds it.
    struct Entity: Sendable {
        /// Its state (nil: none, or passivated).
        var state: [UInt8]?
        /// Recently handled (event id, outcome, where its record is), oldest first (nil: none, or
        /// passivated).
        var window: [HandledID]?
        /// Where its records are in the changelog (kept while passivated: what reloads it).
        var location = EntityLocation()
        /// What records queued for the changelog and not applied yet change (``queue(_:)``):
        /// the key's next event may start from them before they are durable.
        var queued = QueuedKey()
        /// Whether its state and window are out of memory.
        var passivated = false
    }

    // MARK: Entity changes (each in one access of the entity, in place)

    /// Applies a handled-id record to `entity` (see ``applyHandledID(key:id:value:offset:cache:)``):
    /// the id joins the window with where its record is (no dictionary of locations changes per
    /// event: they are gathered only when the key is passivated), or a tombstone removes it.
    private static func applyHandledID(_ id: String, value: [UInt8]?, offset: Int64?, to entity: inout Entity, limit: Int) {
        let adding = value?.first == Self.handledVersion
        if adding {
            if entity.window == nil { entity.window = [] }
            Self.admit(&entity.window!, HandledID(id: id, outcome: Array(value!.dropFirst()), offset: offset), limit: limit)
        } else if entity.window != nil, Self.remove(id, from: &entity.window!) {
            entity.window = nil
        }
        if !entity.queued.isEmpty { entity.queued.unqueue(id: id, added: adding) }
    }

    /// Where each key's records are, for keys with any located (made on each use, for tests): a
    /// resident key's ids are located by its window's entries.
    var locations: [String: EntityLocation] {
        entities.compactMapValues { entity in
            var location = entity.location
            if !entity.passivated {
                for handled in entity.window ?? [] { if let offset = handled.offset { location.ids[handled.id] = offset } }
            }
            return location == EntityLocation() ? nil : location
        }
    }

    /// Recently handled ids per key (for equality; made on each use).
    private var handled: [String: [HandledID]] { entities.compactMapValues(\.window) }

    /// The index of `key`'s entity, made empty if it has none. `cache` holds the last key looked
    /// up and its index, valid until an entity is added: records of one key follow one another.
    mutating func entityIndex(_ key: String, cache: inout (key: String, index: Dictionary<String, Entity>.Index)?) -> Dictionary<String, Entity>.Index {
        if let cache, cache.key == key { return cache.index }
        let index: Dictionary<String, Entity>.Index
        if let found = entities.index(forKey: key) {
            index = found
        } else {
            entities[key] = Entity()
            index = entities.index(forKey: key)!
        }
        cache = (key, index)
        return index
    }

    /// A shard that starts consuming at `startOffset`.
    public init(startOffset: Int64 = 0, rememberedPerKey: Int = 64) {
        nextOffset = startOffset
        self.rememberedPerKey = max(1, rememberedPerKey)
    }

    public static func == (lhs: ShardChangelog, rhs: ShardChangelog) -> Bool {
        lhs.states == rhs.states && lhs.nextOffset == rhs.nextOffset && lhs.handledAbove == rhs.handledAbove && lhs.handled == rhs.handled
            && lhs.pendingOutbox == rhs.pendingOutbox && lhs.timers == rhs.timers
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(states)
        hasher.combine(nextOffset)
        hasher.combine(handledAbove)
    }

    /// Emitted events waiting to be forwarded, in the order they were emitted.
    public var pendingOutbox: [OutboxEntry] {
        outbox.values.sorted { $0.sequence < $1.sequence }.map(\.entry)
    }

    /// Pending timers due at `now` (milliseconds since the epoch), earliest first.
    public func dueTimers(at now: Int64) -> [ShardTimer] {
        Array(timerQueue.prefix { $0.fireAt <= now })
    }

    /// When the earliest pending timer fires; nil without timers.
    public var nextTimerDue: Int64? { nextTimerDue(excluding: []) }

    /// When the earliest pending timer not in `excluded` fires.
    public func nextTimerDue(excluding excluded: Set<ShardTimer>) -> Int64? {
        timerQueue.first { !excluded.contains($0) }?.fireAt
    }

    /// Keeps ``timerQueue`` in time order: `old` leaves it, `new` joins it.
    private mutating func requeue(removing old: ShardTimer?, adding new: ShardTimer?) {
        if let old {
            let index = position(of: old)
            if index < timerQueue.count, timerQueue[index] == old { timerQueue.remove(at: index) }
        }
        if let new { timerQueue.insert(new, at: position(of: new)) }
    }

    /// Where `timer` is or would go in ``timerQueue`` (binary search by time, key, name).
    private func position(of timer: ShardTimer) -> Int {
        var low = 0, high = timerQueue.count
        while low < high {
            let middle = (low + high) / 2
            let other = timerQueue[middle]
            if (other.fireAt, other.key, other.name) < (timer.fireAt, timer.key, timer.name) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Whether `timer` is still pending as it was (not cancelled, replaced or fired since).
    public func isPending(_ timer: ShardTimer) -> Bool { timers[timer.key]?[timer.name] == timer }

    /// Whether the input at `offset` needs no handling: it is below ``nextOffset`` or was handled
    /// above it (``handledAbove``). A replay from a pinned committed offset skips such inputs.
    public func isDone(_ offset: Int64) -> Bool { offset < nextOffset || handledAbove.contains(offset) }

    /// The outcome recorded when `eventID` was handled for `key`, if it was (a redelivery).
    public func outcome(ofHandled eventID: String, key: String) -> [UInt8]? {
        guard let entity = entities[key] else { return nil }
        return outcome(ofHandled: eventID, in: entity)
    }

    // Reads take one copy of the entity (each read through the dictionary copies all of it):
    // they are given it rather than its index.
    private func outcome(ofHandled eventID: String, in entity: Entity) -> [UInt8]? {
        guard let window = entity.window else { return nil }
        // Hashes compared first: a window of 64 ids costs 64 comparisons of numbers.
        let hash = eventID.hashValue
        return window.last { $0.hash == hash && $0.id == eventID }?.outcome
    }

    /// Whether a first attempt at event `eventID` of `key` may run now — the key is in memory and
    /// the event was not handled before — and the state it starts from: what a batch asks of
    /// every event it takes, in one call (each call copies the changelog out of its shard).
    /// Records queued and not applied count (``queue(_:)``): their state is the one the event
    /// starts from, and an event whose id they hold is not runnable (it is a redelivery, to be
    /// recognised once they are applied).
    public func firstAttempt(at eventID: String, key: String) -> (runnable: Bool, state: [UInt8]?) {
        guard let entity = entities[key] else { return (true, nil) }
        guard !entity.passivated, outcome(ofHandled: eventID, in: entity) == nil else { return (false, nil) }
        guard !entity.queued.isEmpty else { return (true, entity.state) }
        guard !entity.queued.ids.contains(eventID) else { return (false, nil) }
        return (true, entity.queued.state ?? entity.state)
    }

    // MARK: Records

    /// A changelog record: its compaction key and value (nil: a tombstone).
    public struct Record: Sendable, Hashable {
        /// The compaction key.
        public var key: [UInt8]
        /// The value; nil deletes the key.
        public var value: [UInt8]?
        /// Its offset in the changelog partition, once stored (what passivation reloads from).
        public var offset: Int64?
        /// What a record made here means, kept beside its bytes: applying it after its append
        /// then parses nothing. Records read from the log have none (not part of equality).
        var meaning: Meaning?

        /// A record.
        public init(key: [UInt8], value: [UInt8]?, offset: Int64? = nil) {
            self.key = key
            self.value = value
            self.offset = offset
        }

        init(key: [UInt8], value: [UInt8]?, meaning: Meaning) {
            self.key = key
            self.value = value
            self.meaning = meaning
        }

        public static func == (lhs: Record, rhs: Record) -> Bool {
            lhs.key == rhs.key && lhs.value == rhs.value && lhs.offset == rhs.offset
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(key)
            hasher.combine(value)
            hasher.combine(offset)
        }
    }

    /// What a record's key and value say, as ``apply(_:)`` would parse them.
    enum Meaning: Sendable {
        /// A state record of `key` (``Record/value`` is the state; nil deletes it).
        case state(key: String)
        /// A handled-id record of `key` (a tombstone evicts the id).
        case handledID(key: String, id: String)
        /// An outbox entry, as its value encodes it.
        case outbox(OutboxEntry)
        /// The tombstone of a forwarded outbox entry.
        case forwarded(id: String)
    }

    // MARK: Passivation

    /// Whether `key`'s state and handled ids are out of memory (``passivate(_:)``): reload them
    /// (``reloadOffsets(of:)``, ``reload(_:)``) before handling an event of the key.
    public func isPassivated(_ key: String) -> Bool { entities[key]?.passivated ?? false }

    /// Entities whose state and handled ids are out of memory.
    public var passivatedCount: Int { passivatedKeys }

    /// Entities whose state or handled ids are in memory.
    public var residentKeys: Set<String> { Set(entities.lazy.filter { $0.value.state != nil || $0.value.window != nil }.map(\.key)) }

    /// Drops `key`'s state and handled ids from memory, keeping where they are in the changelog;
    /// false (nothing dropped) when a record of the key was applied without its offset.
    @discardableResult
    public mutating func passivate(_ key: String) -> Bool {
        guard let index = entities.index(forKey: key) else { return false }
        let entity = entities.values[index]
        guard !entity.passivated, entity.queued.isEmpty, entity.state != nil || entity.window != nil else { return false }
        let location = entity.location
        let window = entity.window ?? []
        guard entity.state == nil || location.state != nil, window.allSatisfy({ $0.offset != nil }) else { return false }
        // Where its ids are, kept while it is out of memory (its window holds them otherwise).
        entities.values[index].location.ids = Dictionary(window.map { ($0.id, $0.offset!) }, uniquingKeysWith: { max($0, $1) })
        entities.values[index].state = nil
        entities.values[index].window = nil
        entities.values[index].queued = QueuedKey()
        entities.values[index].passivated = true
        passivatedKeys += 1
        return true
    }

    /// The changelog offsets holding a passivated `key`'s state and handled ids.
    public func reloadOffsets(of key: String) -> [Int64] {
        guard let index = entities.index(forKey: key), entities.values[index].passivated else { return [] }
        let location = entities.values[index].location
        return Set([location.state, location.window].compactMap { $0 } + location.ids.values).sorted()
    }

    /// Brings a passivated key back from its records read at ``reloadOffsets(of:)``.
    public mutating func reload(_ key: String, from records: [Record]) {
        let wanted = Set(reloadOffsets(of: key))
        guard let index = entities.index(forKey: key), entities.values[index].passivated else { return }
        entities.values[index].passivated = false
        passivatedKeys -= 1
        apply(records.filter { $0.offset.map(wanted.contains) ?? false }.sorted { $0.offset! < $1.offset! })
        // Its window's entries locate its ids again.
        if let index = entities.index(forKey: key) { entities.values[index].location.ids = [:] }
    }

    /// Where a key's newest state record and its handled ids' records are in the changelog.
    struct EntityLocation: Hashable, Sendable {
        var state: Int64?
        /// A whole window of ids in one record (changelogs written before ids had their own).
        var window: Int64?
        /// Each remembered id's record, while the key is passivated (its window's entries hold
        /// them while it is in memory).
        var ids: [String: Int64] = [:]
    }

    private static let offsetKey = Array("o".utf8)
    private static let writerKey = Array("p".utf8)

    /// The record naming the changelog's writer: a new owner bumps the writer's epoch and stores
    /// this first, so from then on the log refuses the previous owner's batches.
    public func writerRecords(producerID: Int64) -> [Record] {
        var value = ByteWriter()
        value.integer(producerID)
        return [Record(key: Self.writerKey, value: value.output)]
    }

    /// The batch that makes `event` durable: the state change, the handled id with its outcome,
    /// the outbox entries and the new offset, all in one batch. Apply it (or replay it) with
    /// ``apply(_:)``. With events of several keys in flight, `committableOffset` is the lowest
    /// offset still unfinished once this event is (``ShardScheduler``); alone, the next one.
    /// A timer's firing (``HandledEvent/firedTimer``) instead removes the timer and moves no
    /// offset: it was never an input.
    public func records(for event: HandledEvent, committableOffset: Int64? = nil) -> [Record] {
        var records: [Record] = []
        eventRecords(for: event, into: &records)
        guard event.firedTimer == nil else { return records }
        records.append(progressRecord(next: max(nextOffset, committableOffset ?? (event.offset + 1)), handling: event.offset))
        return records
    }

    /// ``records(for:committableOffset:)`` of events of distinct keys committed together: each
    /// event's records without an offset record, then one offset record for all of them — the
    /// furthest of `committableOffset` and ``nextOffset``, every event's offset handled (as
    /// ``coalescingProgress(_:)`` makes of their separate batches, without writing and reading
    /// each event's offset record).
    public func records(for events: [HandledEvent], committableOffset: Int64) -> [Record] {
        var records: [Record] = []
        records.reserveCapacity(events.count * 4 + 1)
        var handling = HandledOffsets()
        for event in events {
            eventRecords(for: event, into: &records)
            if event.firedTimer == nil { handling.insert(event.offset) }
        }
        if !handling.isEmpty { records.append(progressRecord(next: max(nextOffset, committableOffset), with: handling)) }
        return records
    }

    /// An event's state, timer, outbox and handled-id records (no offset record).
    private func eventRecords(for event: HandledEvent, into records: inout [Record]) {
        let entity = entities[event.key]
        precondition(!(entity?.passivated ?? false), "reload a passivated key before handling its events")
        if let newState = event.newState { records.append(Record(key: Self.taggedKey("s", event.key), value: newState, meaning: .state(key: event.key))) }
        if let fired = event.firedTimer { records.append(Record(key: Self.timerKey(fired.key, fired.name), value: nil)) }
        for change in event.timerChanges {
            switch change {
            case .schedule(let name, let fireAt, let data):
                var value = ByteWriter()
                value.integer(fireAt)
                value.bytes(data)
                records.append(Record(key: Self.timerKey(event.key, name), value: value.output))
            case .cancel(let name):
                records.append(Record(key: Self.timerKey(event.key, name), value: nil))
            }
        }
        for entry in event.emitted {
            // Sized first: the value is one allocation.
            var value = ByteWriter(capacity: ByteWriter.size(ofString: entry.id) + ByteWriter.size(ofString: entry.topic)
                                   + 9 + (entry.key?.count ?? 0) + 8 + entry.event.count)
            value.string(entry.id)
            value.string(entry.topic)
            value.optionalBytes(entry.key)
            value.bytes(entry.event)
            records.append(Record(key: Self.taggedKey("e", entry.id), value: value.output, meaning: .outbox(entry)))
        }
        guard event.firedTimer == nil else { return }
        // The id joins the key's window in a record of its own, and the oldest leaves it by a
        // tombstone: a batch's size does not depend on how many ids the key remembers.
        let ids = entity?.window ?? []
        if let queued = entity?.queued, !queued.isEmpty {
            // The window as it will be once the queued records are applied.
            for evicted in queued.evictions(from: ids, limit: rememberedPerKey) where evicted != event.eventID {
                records.append(Record(key: Self.handledKey(event.key, evicted), value: nil, meaning: .handledID(key: event.key, id: evicted)))
            }
        } else {
            for evicted in ids.prefix(max(0, ids.count + 1 - rememberedPerKey)) where evicted.id != event.eventID {
                records.append(Record(key: Self.handledKey(event.key, evicted.id), value: nil, meaning: .handledID(key: event.key, id: evicted.id)))
            }
        }
        var handledValue: [UInt8] = []
        handledValue.reserveCapacity(1 + event.outcome.count)
        handledValue.append(Self.handledVersion)
        handledValue.append(contentsOf: event.outcome)
        records.append(Record(key: Self.handledKey(event.key, event.eventID), value: handledValue,
                              meaning: .handledID(key: event.key, id: event.eventID)))
    }

    /// The offset record: the next offset to consume, then the offsets handled above it (this
    /// changelog's, with `handling`). A reader from before the set reads the offset alone.
    private func progressRecord(next: Int64, handling: Int64? = nil, with more: HandledOffsets? = nil) -> Record {
        var handled = handledAbove
        if let handling { handled.insert(handling) }
        if let more { handled.formUnion(more) }
        handled.removeAll(below: next)
        var value = ByteWriter()
        value.integer(next)
        handled.write(to: &value)
        return Record(key: Self.offsetKey, value: value.output)
    }

    /// `records` (the batches of several events, committed together) with their offset records
    /// merged into one at the end: the furthest offset, and every offset handled above it. Each
    /// event's batch was made without the others', and compaction keeps only the newest offset
    /// record, so unmerged the last would forget the handled offsets of the rest.
    public func coalescingProgress(_ records: [Record]) -> [Record] {
        var records = records
        coalesceProgress(&records)
        return records
    }

    /// ``coalescingProgress(_:)`` in place, called as the records are written: the offset record
    /// is also made anew from what is applied then, since one made while an earlier batch was
    /// still being written lacks that batch's handled offsets, and once compaction kept only the
    /// newest offset record a replay would run those events again.
    public func coalesceProgress(_ records: inout [Record]) {
        var offsetRecords = 0, lastOffsetRecord = -1
        for index in records.indices where records[index].key == Self.offsetKey {
            offsetRecords += 1
            lastOffsetRecord = index
        }
        if offsetRecords == 1 {
            // Mostly one offset record: remade where it is.
            var reader = ByteReader(records[lastOffsetRecord].value ?? [])
            guard let offset = reader.integer() else { return }
            records[lastOffsetRecord] = progressRecord(next: max(nextOffset, offset), with: HandledOffsets.read(from: &reader))
            return
        }
        guard offsetRecords > 1 else { return }
        var next = nextOffset
        var handled = HandledOffsets()
        records.removeAll { record in
            guard record.key == Self.offsetKey else { return false }
            var reader = ByteReader(record.value ?? [])
            if let offset = reader.integer() {
                next = max(next, offset)
                if let set = HandledOffsets.read(from: &reader) { handled.formUnion(set) }
            }
            return true
        }
        records.append(progressRecord(next: next, with: handled))
    }

    /// The batch for an input recognised as a redelivery of a handled event (by its id, in the
    /// window of remembered ids) while other keys' events may be unfinished: its offset joins the
    /// handled ones, so a replay skips it even once the window has moved past its id.
    /// `committableOffset` is as in ``records(for:committableOffset:)``.
    public func records(recognising offset: Int64, committableOffset: Int64) -> [Record] {
        [progressRecord(next: max(nextOffset, committableOffset), handling: offset)]
    }

    /// The batch for an input that runs no handler (a redelivery of a handled event, or one
    /// filtered out) with nothing below it unfinished: only the offset moves.
    public func records(skipping offset: Int64) -> [Record] {
        [progressRecord(next: max(nextOffset, offset + 1))]
    }

    /// The compaction key of `name`'s timer of `key`: `t\0`, the key's length in bytes and `:`, the
    /// key, the name (a key may hold any byte, a NUL included).
    static func timerKey(_ key: String, _ name: String) -> [UInt8] { entityKey("t", key, name) }

    /// The compaction key of one handled id of `key`, laid out as a timer's (`i\0`, length, `:`,
    /// key, id); its value is ``handledVersion`` then the recorded outcome.
    static func handledKey(_ key: String, _ id: String) -> [UInt8] { entityKey("i", key, id) }

    /// `tag`, NUL, then `name` (a state's or an outbox entry's key), written straight as bytes.
    static func taggedKey(_ tag: Unicode.Scalar, _ name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(2 + name.utf8.count)
        bytes.append(UInt8(ascii: tag))
        bytes.append(0)
        bytes.append(contentsOf: name.utf8)
        return bytes
    }

    /// `tag`, NUL, the key's length in decimal and `:`, the key, then `name` (a timer's or a
    /// handled id's key), written straight as bytes.
    static func entityKey(_ tag: Unicode.Scalar, _ key: String, _ name: String) -> [UInt8] {
        let length = key.utf8.count
        var digits = 1, scale = 1
        while length / scale >= 10 {
            digits += 1
            scale *= 10
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(3 + digits + length + name.utf8.count)
        bytes.append(UInt8(ascii: tag))
        bytes.append(0)
        while scale > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(length / scale % 10))
            scale /= 10
        }
        bytes.append(UInt8(ascii: ":"))
        bytes.append(contentsOf: key.utf8)
        bytes.append(contentsOf: name.utf8)
        return bytes
    }

    /// The first byte of a handled id's value (its layout's version).
    static let handledVersion: UInt8 = 1

    /// The key and name in a timer record's key (after `t\0`); nil when malformed.
    static func timerParts(_ bytes: ArraySlice<UInt8>) -> (key: String, name: String)? {
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > bytes.startIndex, colon - bytes.startIndex <= 18 else { return nil }
        // The length's decimal digits, read in place.
        var length = 0
        for digit in bytes[..<colon] {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            length = length * 10 + Int(digit - UInt8(ascii: "0"))
        }
        guard length <= bytes.endIndex - bytes.index(after: colon) else { return nil }
        let keyEnd = bytes.index(after: colon) + length
        return (String(decoding: bytes[bytes.index(after: colon)..<keyEnd], as: UTF8.self), String(decoding: bytes[keyEnd...], as: UTF8.self))
    }

    /// Tombstones for outbox entries that have been forwarded.
    public func forwardedRecords(ids: [String]) -> [Record] {
        ids.map { Record(key: Self.taggedKey("e", $0), value: nil, meaning: .forwarded(id: $0)) }
    }

    /// Applies records in log order (a batch just appended, or the log replayed after a restart);
    /// with `firstOffset`, the records are a batch stored from that offset on (record `i` at
    /// `firstOffset + i`), applied without a copy of each carrying its offset.
    public mutating func apply(_ records: [Record], from firstOffset: Int64? = nil) {
        var cache: (key: String, index: Dictionary<String, Entity>.Index)?
        for index in records.indices {
            let offset = firstOffset.map { $0 + Int64(index - records.startIndex) } ?? records[index].offset
            // A record made here is applied from its fields in place (no copy of the record).
            if let meaning = records[index].meaning {
                apply(meaning, value: records[index].value, offset: offset, cache: &cache)
                continue
            }
            var record = records[index]
            record.offset = offset
            guard let tag = record.key.first else { continue }
            // The entity key or outbox id after the tag (made only where it is needed).
            var name: String { record.key.count > 2 ? String(decoding: record.key[2...], as: UTF8.self) : "" }
            switch tag {
            case UInt8(ascii: "s"):
                let slot = entityIndex(name, cache: &cache)
                entities.values[slot].setState(record.value, at: record.offset)
            case UInt8(ascii: "h"):
                // A whole window in one record, as changelogs written before ids had records of
                // their own hold it; ids recorded after it join it.
                let slot = entityIndex(name, cache: &cache)
                entities.values[slot].window = record.value.flatMap { Self.decodeHandled($0, at: record.offset) }
                entities.values[slot].location.window = record.value == nil ? nil : record.offset
            case UInt8(ascii: "i"):
                guard record.key.count > 2, let (key, id) = Self.timerParts(record.key[2...]) else { continue }
                applyHandledID(key: key, id: id, value: record.value, offset: record.offset, cache: &cache)
            case UInt8(ascii: "e"):
                let name = name
                if let value = record.value, let entry = Self.decodeOutbox(value) {
                    if outbox[name] == nil {
                        outboxSequence += 1
                        outbox[name] = (outboxSequence, entry)
                    }
                } else {
                    outbox[name] = nil
                }
            case UInt8(ascii: "t"):
                guard record.key.count > 2, let (key, timerName) = Self.timerParts(record.key[2...]) else { continue }
                var reader = ByteReader(record.value ?? [])
                if record.value != nil, let fireAt = reader.integer(), let data = reader.bytes() {
                    let timer = ShardTimer(key: key, name: timerName, fireAt: fireAt, data: data)
                    requeue(removing: timers[key]?[timerName], adding: timer)
                    timers[key, default: [:]][timerName] = timer
                } else {
                    requeue(removing: timers[key]?[timerName], adding: nil)
                    timers[key]?[timerName] = nil
                    if timers[key]?.isEmpty == true { timers[key] = nil }
                }
            case UInt8(ascii: "p"):
                var reader = ByteReader(record.value ?? [])
                if let id = reader.integer() { writerID = id }
            case UInt8(ascii: "o"):
                var reader = ByteReader(record.value ?? [])
                if let offset = reader.integer() {
                    nextOffset = max(nextOffset, offset)
                    // Offsets once handled stay handled: the sets of successive records unite.
                    if let set = HandledOffsets.read(from: &reader) { handledAbove.formUnion(set) }
                    handledAbove.removeAll(below: nextOffset)
                }
            default: continue
            }
        }
    }

    /// A record made here, applied from what it means (as the parsing in ``apply(_:)`` would).
    private mutating func apply(_ meaning: Meaning, value: [UInt8]?, offset: Int64?, cache: inout (key: String, index: Dictionary<String, Entity>.Index)?) {
        switch meaning {
        case .state(let key):
            let slot = entityIndex(key, cache: &cache)
            entities.values[slot].setState(value, at: offset)
        case .handledID(let key, let id):
            applyHandledID(key: key, id: id, value: value, offset: offset, cache: &cache)
        case .outbox(let entry):
            if outbox[entry.id] == nil {
                outboxSequence += 1
                outbox[entry.id] = (outboxSequence, entry)
            }
        case .forwarded(let id):
            outbox[id] = nil
        }
    }

    /// An id record of `key`'s window: the id joins the window (newest last, the oldest leaving
    /// past ``rememberedPerKey``), or leaves it (a tombstone), and no longer counts as queued.
    /// The key's entity is changed in place (this runs for every event committed).
    private mutating func applyHandledID(key: String, id: String, value: [UInt8]?, offset: Int64?,
                                         cache: inout (key: String, index: Dictionary<String, Entity>.Index)?) {
        let slot = entityIndex(key, cache: &cache)
        // Changed in one access of the entity (a read of a field through the dictionary copies it).
        Self.applyHandledID(id, value: value, offset: offset, to: &entities.values[slot], limit: rememberedPerKey)
    }

    /// Adds `entry` to `window` newest last, replacing an older entry of its id, and drops the
    /// oldest past `limit`.
    private static func admit(_ window: inout [HandledID], _ entry: HandledID, limit: Int) {
        if let index = window.firstIndex(where: { $0.hash == entry.hash && $0.id == entry.id }) { window.remove(at: index) }
        window.append(entry)
        if window.count > limit { window.removeFirst(window.count - limit) }
    }

    /// Removes `id` from `window`; true when the window is then empty.
    private static func remove(_ id: String, from window: inout [HandledID]) -> Bool {
        let hash = id.hashValue
        if let index = window.firstIndex(where: { $0.hash == hash && $0.id == id }) { window.remove(at: index) }
        return window.isEmpty
    }

    /// A whole-window record's ids (stored at `offset`).
    private static func decodeHandled(_ bytes: [UInt8], at offset: Int64?) -> [HandledID]? {
        var reader = ByteReader(bytes)
        guard let count = reader.integer(), count >= 0, count <= 1 << 20 else { return nil }
        var ids: [HandledID] = []
        for _ in 0..<count {
            guard let id = reader.string(), let outcome = reader.bytes() else { return nil }
            ids.append(HandledID(id: id, outcome: outcome, offset: offset))
        }
        return ids
    }

    private static func decodeOutbox(_ bytes: [UInt8]) -> OutboxEntry? {
        var reader = ByteReader(bytes)
        guard let id = reader.string(), let topic = reader.string(), let key = reader.optionalBytes(), let event = reader.bytes() else { return nil }
        return OutboxEntry(id: id, topic: topic, key: key, event: event)
    }
}

extension ShardChangelog.Entity {
    /// A state record (nil: deleted) stored at `offset`.
    mutating func setState(_ value: [UInt8]?, at offset: Int64?) {
        state = value
        location.state = value == nil ? nil : offset
    }

    /// An entity that queues no event keeps no queued state (``ShardChangelog/queue(_:)``).
    mutating func settleQueued() {
        if queued.isEmpty { queued.state = nil }
    }
}
