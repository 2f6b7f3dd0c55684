/// The order in which an agent shard runs its partition's events (DESIGN §2 ShardHost): events
/// of one key run in offset order, one at a time (a key is free for its next event once the
/// running one is finished, or released: handled, its changes queued behind the key's earlier
/// ones but not yet durable); events of different keys run concurrently up
/// to `maxConcurrent`; the queue holds at most `capacity` events (running ones included), so the
/// fetcher stops when it is full instead of buffering without bound; the offset a shard may
/// commit is the lowest one not yet finished; and no event more than `maxSpan` offsets past it is
/// taken, so the offsets handled above the committable one (``HandledOffsets``, what a replay
/// skips) stay bounded while a slow key pins it. Pure: no clock, no I/O, no `await`.
public struct ShardScheduler<Payload: Sendable>: Sendable {
    /// One event of the partition.
    public struct Item: Sendable {
        /// Its offset in the partition.
        public var offset: Int64
        /// The entity key: events of one key are serialised.
        public var key: String
        /// The event (or whatever the host runs for it).
        public var payload: Payload

        /// An item.
        public init(offset: Int64, key: String, payload: Payload) {
            self.offset = offset
            self.key = key
            self.payload = payload
        }
    }

    /// One key's events: those waiting (in offset order), the running one's offset, and how
    /// many are released and not finished.
    @usableFromInline struct KeyState: Sendable {
        @usableFromInline var waiting: [Item] = []
        @usableFromInline var running: Int64?
        @usableFromInline var released = 0

        @inlinable init() {}

        /// Whether nothing of the key waits, runs or is released (its entry can go).
        @inlinable var isIdle: Bool { waiting.isEmpty && running == nil && released == 0 }

        /// Queues `item`; true when the key becomes ready by it (nothing waited or ran).
        @inlinable mutating func add(_ item: Item) -> Bool {
            let becomesReady = waiting.isEmpty && running == nil
            waiting.append(item)
            return becomesReady
        }

        /// The first waiting event, now running.
        @inlinable mutating func startNext() -> Item {
            let item = waiting.removeFirst()
            running = item.offset
            return item
        }
    }

    /// Why an item was not taken.
    public enum EnqueueError: Error, Sendable, Hashable {
        /// The queue holds `capacity` events, or the offset is `maxSpan` or more past the
        /// committable one: wait for events to finish.
        case full
        /// Offsets must increase; this one does not follow the last.
        case outOfOrder(offset: Int64, last: Int64)
    }

    /// Events held at most (waiting and running).
    public let capacity: Int
    /// Keys running at once at most.
    public let maxConcurrent: Int
    /// How far past the committable offset an event may be taken.
    public let maxSpan: Int64
    /// What each busy key holds (a key none waits, runs or is released for has no entry): one
    /// lookup per step of an event, where a dictionary per field took three or four.
    @usableFromInline var keys: [String: KeyState] = [:]
    /// Keys with waiting events and none running, in the order they became ready (from
    /// `readyHead` on: taking the first moves the head, not the rest).
    @usableFromInline var ready: [String] = []
    @usableFromInline var readyHead = 0
    /// Keys running an event.
    @usableFromInline var runningKeys = 0
    /// Offsets released (their keys free again) and not finished, with their keys.
    @usableFromInline var released: [Int64: String] = [:]
    /// Offsets held and not finished.
    @usableFromInline var unfinished: Set<Int64> = []
    /// Offsets taken or skipped, in order, from the committable one on (from `candidatesHead` on).
    @usableFromInline var lowestCandidates: [Int64] = []
    @usableFromInline var candidatesHead = 0
    @usableFromInline var lastOffset: Int64?
    @usableFromInline var nextOffset: Int64

    /// A scheduler for a partition whose next event is at `startOffset`.
    @inlinable public init(startOffset: Int64, capacity: Int = 512, maxConcurrent: Int = 16, maxSpan: Int64 = 4096) {
        precondition(capacity >= 1 && maxConcurrent >= 1, "capacity and maxConcurrent are at least 1")
        self.capacity = capacity
        self.maxSpan = max(1, maxSpan)
        self.maxConcurrent = maxConcurrent
        nextOffset = startOffset
    }

    /// Events held (waiting and running).
    @inlinable public var count: Int { unfinished.count }

    /// Whether another event fits.
    @inlinable public var hasRoom: Bool { unfinished.count < capacity }

    /// Whether the event at `offset` fits: there is room, and it is less than `maxSpan` past the
    /// committable offset.
    @inlinable public func hasRoom(for offset: Int64) -> Bool { hasRoom && offset - nextOffset < maxSpan }

    /// Events running now.
    @inlinable public var runningCount: Int { runningKeys }

    /// Events released and not finished (``release(offset:key:)``).
    @inlinable public var releasedCount: Int { released.count }

    /// Whether an event of `key` waits, runs, or is released and not finished.
    @inlinable public func isBusy(_ key: String) -> Bool { keys[key].map { !$0.isIdle } ?? false }

    /// Whether `key` has events released and not finished.
    @inlinable public func hasReleased(_ key: String) -> Bool { (keys[key]?.released ?? 0) > 0 }

    /// Takes the partition's next event; refused when full or out of order.
    @inlinable public mutating func enqueue(_ item: Item) throws(EnqueueError) {
        guard hasRoom(for: item.offset) else { throw .full }
        if let lastOffset, item.offset <= lastOffset { throw .outOfOrder(offset: item.offset, last: lastOffset) }
        lastOffset = item.offset
        unfinished.insert(item.offset)
        lowestCandidates.append(item.offset)
        if keys[item.key, default: KeyState()].add(item) { ready.append(item.key) }
    }

    /// Takes an item that is no input offset (a timer firing): it runs in order with its key's
    /// events like any other, but outside the offset accounting and the capacity (the caller
    /// bounds such items). Its offset must be negative and unique among the items held.
    @inlinable public mutating func enqueueExtra(_ item: Item) {
        precondition(item.offset < 0, "extra items have negative offsets")
        if keys[item.key, default: KeyState()].add(item) { ready.append(item.key) }
    }

    /// An offset with nothing to run (filtered out before any handler): committable once every
    /// event below it has finished.
    @inlinable public mutating func skip(offset: Int64) throws(EnqueueError) {
        if let lastOffset, offset <= lastOffset { throw .outOfOrder(offset: offset, last: lastOffset) }
        lastOffset = offset
        lowestCandidates.append(offset)
        advance()
    }

    /// The next event that may start now (its key idle, fewer than `maxConcurrent` running), now
    /// counted as running; nil when none may.
    @inlinable public mutating func start() -> Item? {
        guard runningKeys < maxConcurrent, readyHead < ready.count else { return nil }
        let key = ready[readyHead]
        readyHead += 1
        if readyHead == ready.count || readyHead >= 64 && readyHead * 2 >= ready.count {
            ready.removeFirst(readyHead)
            readyHead = 0
        }
        // Taken in place: a copy of the key's queue would be made for every event.
        runningKeys += 1
        return keys[key]!.startNext()
    }

    /// Drops every waiting event (a shard giving up its partition: they will be delivered to the
    /// partition's next owner); running ones finish as usual. Returns how many were dropped.
    @discardableResult
    @inlinable public mutating func dropWaiting() -> Int {
        let count = keys.values.reduce(0) { $0 + $1.waiting.count }
        let dropped = keys.values.flatMap { $0.waiting.map(\.offset) }.filter { $0 >= 0 }
        for state in keys.values { for item in state.waiting { unfinished.remove(item.offset) } }
        keys = keys.compactMapValues { state in
            var state = state
            state.waiting = []
            return state.isIdle ? nil : state
        }
        ready = []
        readyHead = 0
        // The committable offset must never pass a dropped event: candidates from the first
        // dropped one on go (the next owner takes the partition from there).
        if let first = dropped.min() {
            lowestCandidates.removeFirst(candidatesHead)
            candidatesHead = 0
            lowestCandidates.removeAll { $0 >= first }
            lastOffset = first - 1
        }
        return count
    }

    /// The running event at `offset` is handled and its changes are queued, not yet durable: its
    /// key's next event becomes ready (it starts from those changes), while the offset stays
    /// unfinished — the committable offset does not pass it — until ``finish(offset:key:)``.
    /// Unknown offsets are ignored.
    @inlinable public mutating func release(offset: Int64, key: String) {
        guard let index = keys.index(forKey: key), keys.values[index].running == offset else { return }
        keys.values[index].running = nil
        keys.values[index].released += 1
        runningKeys -= 1
        released[offset] = key
        if !keys.values[index].waiting.isEmpty { ready.append(key) }
    }

    /// The event at `offset`, running or released, finished (handled durably, or given up to the
    /// dead letters); a running one's key's next event becomes ready. Unknown offsets are ignored.
    @inlinable public mutating func finish(offset: Int64, key: String) {
        guard let index = keys.index(forKey: key) else { return }
        if keys.values[index].running == offset {
            keys.values[index].running = nil
            runningKeys -= 1
            if !keys.values[index].waiting.isEmpty { ready.append(key) }
        } else if released.removeValue(forKey: offset) != nil {
            keys.values[index].released -= 1
        } else {
            return
        }
        if keys.values[index].isIdle { keys.remove(at: index) }
        unfinished.remove(offset)
        advance()
    }

    /// The offset to commit: every event below it has finished.
    @inlinable public var committableOffset: Int64 { nextOffset }

    /// The committable offset once the running event at `offset` finishes (to make it durable
    /// with that event's changes before finishing it).
    @inlinable public func committableOffset(finishing offset: Int64, key: String) -> Int64 {
        guard keys[key]?.running == offset || released[offset] != nil else { return nextOffset }
        // As ``advance()`` would with `offset` finished (read only: no copy of the state).
        var next = nextOffset
        var index = candidatesHead
        while index < lowestCandidates.count, lowestCandidates[index] == offset || !unfinished.contains(lowestCandidates[index]) {
            next = lowestCandidates[index] + 1
            index += 1
        }
        return next
    }

    /// The committable offset once the running events of `items` (distinct keys) finish together,
    /// to make them durable with their changes in one batch: the furthest of what each alone
    /// would allow. (Together they may allow more than this, never less: it never passes an
    /// unfinished event.)
    @inlinable public func committableOffset(finishingAll items: [Item]) -> Int64 {
        items.reduce(nextOffset) { max($0, committableOffset(finishing: $1.offset, key: $1.key)) }
    }

    @usableFromInline mutating func advance() {
        while candidatesHead < lowestCandidates.count, !unfinished.contains(lowestCandidates[candidatesHead]) {
            nextOffset = lowestCandidates[candidatesHead] + 1
            candidatesHead += 1
        }
        if candidatesHead == lowestCandidates.count || candidatesHead >= 64 && candidatesHead * 2 >= lowestCandidates.count {
            lowestCandidates.removeFirst(candidatesHead)
            candidatesHead = 0
        }
    }
}
