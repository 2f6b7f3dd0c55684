import ClusterCore
import GanglionTestKit

/// A seeded model of an agent shard (what `AgentShard` does with ``ShardScheduler`` and
/// ``ShardChangelog``) under the schedules of issue 14: many keys with random handler durations,
/// first attempts run one by one or together in batches (one runner for several keys, its slice
/// handing back what it has not begun, its results committed as one batch of records),
/// attempts that hang ignoring cancellation (abandoned at the deadline, their late results
/// fenced off), crashes and restarts at any step (the changelog compacted at random), rebalances
/// whose drain outlives its timeout, group commits at any time, and duplicate deliveries (a
/// rewound fetch, and recent events stored twice upstream with new offsets). A key's next event
/// may start once the last one's records are queued, before they are durable (``ShardChangelog/queue(_:)``,
/// ``ShardScheduler/release(offset:key:)``), and the group commit writes a prefix of the queued
/// batches at a time (the rest still in flight). One seed decides everything, so a failure
/// replays exactly.
struct ShardSimulation {
    /// An input: an event id for a key; `hangs` are the attempts (from 1) that never return.
    struct Input {
        var id: String
        var key: String
        var duration: Int
        var hangs: Set<Int>
    }

    /// A handler attempt in flight.
    struct Attempt {
        var item: ShardScheduler<Input>.Item
        var number: Int
        var remaining: Int?
        var age = 0
        var key: String { item.key }
    }

    /// First attempts of several keys run one after another by one runner (`ShardBatch`), each
    /// with the state it had when the batch started.
    struct Batch {
        struct Entry {
            var item: ShardScheduler<Input>.Item
            var state: [UInt8]?
            var token: Int
        }
        /// Not begun, in order.
        var waiting: [Entry]
        var running: Entry?
        var remaining: Int?
        var age = 0
        var abandoned = false
        var done: [Entry] = []
        var elapsed = 0
        var sliceOver = false
    }

    static let agent = "sim"
    static let maxAttempts = 3
    /// Ticks after which an attempt that has not returned is abandoned (the deadline plus grace).
    static let abandonAfter = 6

    var random: SeededGenerator
    let inputs: [Input]
    let remembered: Int
    let capacity: Int
    let maxConcurrent: Int
    let maxSpan: Int64
    /// Ticks a batch runs before the shard takes back what it has not begun.
    let batchSlice: Int

    // The durable world: the changelog partition, the group's committed offset, what reached topics.
    var log: [[ShardChangelog.Record]] = []
    var groupCommitted: Int64 = 0
    var forwarded: [(id: String, event: [UInt8])] = []
    /// Input offsets whose batch is in the log (handled, dead-lettered, or recognised as a duplicate).
    var durable: Set<Int64> = []

    // The running owner.
    var changelog: ShardChangelog
    var scheduler: ShardScheduler<Input>
    var cursor: Int64 = 0
    var attempts: [Int: Attempt] = [:]
    var lastToken = 0
    /// Abandoned attempts whose handlers may still return (their results must be discarded).
    var zombies: [Int: Attempt] = [:]
    /// Runners of batches by their number (``Batch``); and the fence tokens of batch entries
    /// still the shard's (an entry taken back, abandoned or lost in a restart has none).
    var batches: [Int: Batch] = [:]
    var liveEntries: Set<Int> = []
    /// Batch entries abandoned in their handler (their runner stuck there) that may still return.
    var batchZombies: [Batch.Entry] = []
    /// Batches made and not yet appended (group commit), with the items they finish.
    var pending: [(records: [ShardChangelog.Record], items: [ShardScheduler<Input>.Item])] = []
    /// Inputs run on their own that wait for their key's queued records to be applied before they
    /// read anything (`AgentShard.run`): then a redelivery is recognised, or an attempt begins.
    var deferred: [ShardScheduler<Input>.Item] = []
    var intakeOpen = true
    var violations: [String] = []

    init(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let keys = (0..<Int(1 + random.next() % 6)).map { "key-\($0)" }
        remembered = Int(1 + random.next() % 3)
        capacity = Int(2 + random.next() % 10)
        maxConcurrent = Int(1 + random.next() % 4)
        maxSpan = Int64(2 + random.next() % 20)
        batchSlice = Int(1 + random.next() % 5)
        var inputs: [Input] = []
        var recent: [String: [String]] = [:]
        for index in 0..<Int(15 + random.next() % 50) {
            let key = keys[Int(random.next() % UInt64(keys.count))]
            var id = "evt-\(index)"
            // A recent event of the key stored again (within the window of remembered ids).
            if let ids = recent[key], !ids.isEmpty, random.next() % 8 == 0 { id = ids[Int(random.next() % UInt64(ids.count))] }
            var hangs: Set<Int> = []
            if random.next() % 6 == 0 { hangs.insert(1) }
            if random.next() % 12 == 0 { hangs.formUnion(1...Self.maxAttempts) }  // dead letter
            inputs.append(Input(id: id, key: key, duration: Int(1 + random.next() % 4), hangs: hangs))
            if !recent[key, default: []].contains(id) { recent[key, default: []].append(id) }
            recent[key] = Array(recent[key]!.suffix(remembered))
        }
        self.inputs = inputs
        self.random = random
        changelog = ShardChangelog(rememberedPerKey: remembered)
        scheduler = ShardScheduler(startOffset: 0, capacity: capacity, maxConcurrent: maxConcurrent, maxSpan: maxSpan)
    }

    // MARK: The owner's steps

    /// Delivers the next input, as `AgentShard.submit` takes it; false when it must wait.
    mutating func deliver() -> Bool {
        guard intakeOpen, cursor < Int64(inputs.count) else { return false }
        let offset = cursor
        if offset < scheduler.committableOffset {
            cursor += 1
            return true
        }
        guard scheduler.hasRoom(for: offset) else { return false }
        cursor += 1
        if changelog.isDone(offset) {
            try? scheduler.skip(offset: offset)
            return true
        }
        let input = inputs[Int(offset)]
        do { try scheduler.enqueue(.init(offset: offset, key: input.key, payload: input)) } catch { return true }  // taken already
        pump()
        return true
    }

    /// Starts what may start: a redelivery of a handled id is recognised; others get an attempt,
    /// on its own or (at random, as `AgentShard.batchable` allows) in one batch with the rest.
    mutating func pump() {
        var batchable: [Batch.Entry] = []
        while let item = scheduler.start() {
            // As `AgentShard` asks: a batch takes an event its key has not handled; the rest run
            // on their own, a redelivery recognised there.
            if random.next() % 3 != 0, case let first = changelog.firstAttempt(at: item.payload.id, key: item.key), first.runnable {
                lastToken += 1
                liveEntries.insert(lastToken)
                batchable.append(Batch.Entry(item: item, state: first.state, token: lastToken))
            } else {
                deferred.append(item)
            }
        }
        startDeferred()
        guard !batchable.isEmpty else { return }
        lastToken += 1
        batches[lastToken] = Batch(waiting: batchable)
    }

    /// Runs the deferred inputs whose keys have nothing queued.
    mutating func startDeferred() {
        var still: [ShardScheduler<Input>.Item] = []
        for item in deferred {
            if changelog.isQueued(item.key) {
                still.append(item)
            } else if changelog.outcome(ofHandled: item.payload.id, key: item.key) != nil {
                recogniseDuplicate(item)
            } else {
                begin(item, number: 1)
            }
        }
        deferred = still
    }

    mutating func recogniseDuplicate(_ item: ShardScheduler<Input>.Item) {
        let committable = scheduler.committableOffset(finishing: item.offset, key: item.key)
        queue(changelog.records(recognising: item.offset, committableOffset: committable), [item], release: false)
    }

    /// Queues a batch for the group commit; with `release`, its items' keys may run their next
    /// events now (from what it changes).
    mutating func queue(_ records: [ShardChangelog.Record], _ items: [ShardScheduler<Input>.Item], release: Bool) {
        changelog.queue(records)
        pending.append((records, items))
        guard release else { return }
        for item in items { scheduler.release(offset: item.offset, key: item.key) }
    }

    mutating func begin(_ item: ShardScheduler<Input>.Item, number: Int) {
        lastToken += 1
        let hangs = item.payload.hangs.contains(number)
        attempts[lastToken] = Attempt(item: item, number: number, remaining: hangs ? nil : item.payload.duration)
    }

    /// Time passes: attempts progress, finish, or are abandoned past the deadline (and retried,
    /// or dead-lettered after the last attempt).
    mutating func tick() {
        for token in attempts.keys.sorted() {
            // An attempt reads its key's state once what is queued for the key is applied.
            guard var attempt = attempts[token], !changelog.isQueued(attempt.key) else { continue }
            attempt.age += 1
            if let remaining = attempt.remaining {
                attempt.remaining = remaining - 1
                if remaining - 1 <= 0 {
                    attempts[token] = nil
                    complete(attempt.item, state: changelog.states[attempt.key], deadLetter: false)
                    continue
                }
            }
            if attempt.age >= Self.abandonAfter {
                attempts[token] = nil
                zombies[token] = attempt
                if attempt.number < Self.maxAttempts {
                    begin(attempt.item, number: attempt.number + 1)
                } else {
                    complete(attempt.item, state: changelog.states[attempt.key], deadLetter: true)
                }
                continue
            }
            attempts[token] = attempt
        }
        for number in batches.keys.sorted() { runBatch(number) }
        // Keys released by what completed may run their next events.
        pump()
    }

    /// A tick of a batch's runner: its running entry progresses (or hangs, and is abandoned past
    /// the deadline: it fails and is retried on its own); the next begins unless the slice is
    /// over; at the slice's end the shard takes back what has not begun, and when the runner
    /// ends it hands its results back (`AgentShard.runBatch`, `batchEnded`).
    mutating func runBatch(_ number: Int) {
        guard var batch = batches[number] else { return }
        batch.elapsed += 1
        if batch.running == nil, !batch.sliceOver, !batch.waiting.isEmpty {
            let entry = batch.waiting.removeFirst()
            batch.running = entry
            batch.remaining = entry.item.payload.hangs.contains(1) ? nil : entry.item.payload.duration
            batch.age = 0
        }
        if let running = batch.running {
            batch.age += 1
            if let remaining = batch.remaining {
                batch.remaining = remaining - 1
                if remaining - 1 <= 0 {
                    batch.done.append(running)
                    batch.running = nil
                }
            } else if !batch.abandoned && batch.age >= Self.abandonAfter {
                // Abandoned: the attempt fails (its token fenced) and is retried on its own; the
                // runner stays stuck in the handler, its return discarded whenever it comes.
                batch.abandoned = true
                if liveEntries.remove(running.token) != nil { begin(running.item, number: 2) }
            }
        }
        if !batch.sliceOver && batch.elapsed >= batchSlice {
            batch.sliceOver = true
            batches[number] = batch
            batchEnded(number)
            batch = batches[number]!
        }
        if batch.abandoned && batch.sliceOver, let stuck = batch.running {
            // Nothing more is due from this runner: only its hung handler's return, some day.
            batchZombies.append(stuck)
            batches[number] = nil
            return
        }
        batches[number] = batch
        if batch.running == nil && (batch.waiting.isEmpty || batch.sliceOver) {
            batchEnded(number)
            batches[number] = nil
        }
    }

    /// The shard takes a batch's results and runs what the batch did not begin on its own.
    mutating func batchEnded(_ number: Int) {
        guard var batch = batches[number] else { return }
        let results = batch.done, waiting = batch.waiting
        batch.done = []
        batch.waiting = []
        batches[number] = batch
        takeBatchResults(results)
        for entry in waiting where liveEntries.remove(entry.token) != nil { begin(entry.item, number: 1) }
    }

    /// Results a batch's runner hands back: those still the shard's are committed as one batch
    /// of records with one offset record; the others (abandoned at their deadline, or of an owner
    /// before a restart or rebalance) are fenced off, as `AgentShard.batchEnded` does by token.
    mutating func takeBatchResults(_ results: [Batch.Entry]) {
        let taken = results.filter { liveEntries.remove($0.token) != nil }
        guard !taken.isEmpty else { return }
        let events = taken.map { handledEvent($0.item, state: $0.state, deadLetter: false) }
        let committable = scheduler.committableOffset(finishingAll: taken.map(\.item))
        queue(changelog.records(for: events, committableOffset: committable), taken.map(\.item), release: true)
    }

    /// An abandoned attempt's handler returns at last: its fence is settled, the result dropped.
    mutating func zombieReturns() {
        if !batchZombies.isEmpty, random.next() % 2 == 0 {
            // Its result reaches the shard as its batch's last: fenced off by its token.
            return takeBatchResults([batchZombies.removeFirst()])
        }
        guard let token = zombies.keys.sorted().first else { return }
        zombies[token] = nil
        if attempts[token] != nil { violations.append("an abandoned attempt's result was taken") }
    }

    /// The handler's effects: the key's state lists the ids handled in order; one event emitted.
    mutating func complete(_ item: ShardScheduler<Input>.Item, state: [UInt8]?, deadLetter: Bool) {
        let handled = handledEvent(item, state: state, deadLetter: deadLetter)
        let committable = scheduler.committableOffset(finishing: item.offset, key: item.key)
        queue(changelog.records(for: handled, committableOffset: committable), [item], release: true)
    }

    /// What handling `item` from `state` changes (or its dead letter).
    func handledEvent(_ item: ShardScheduler<Input>.Item, state: [UInt8]?, deadLetter: Bool) -> HandledEvent {
        let id = item.payload.id
        let handled: HandledEvent
        if deadLetter {
            let letter = OutboxEntry(id: "\(id)/dead-letter", topic: "dlq", key: nil, event: Array("dead:\(id)".utf8))
            handled = HandledEvent(eventID: id, key: item.key, offset: item.offset, newState: nil, emitted: [letter], outcome: Array("dead".utf8))
        } else {
            let previous = state.map { String(decoding: $0, as: UTF8.self) } ?? ""
            let next = previous.isEmpty ? id : previous + "," + id
            let emitted = OutboxEntry(id: EmittedEventID.derive(inputID: id, agent: Self.agent, index: 0), topic: "out", key: nil,
                                      event: Array("\(item.key):\(id)".utf8))
            handled = HandledEvent(eventID: id, key: item.key, offset: item.offset, newState: .some(Array(next.utf8)), emitted: [emitted],
                                   outcome: Array("ok".utf8))
        }
        return handled
    }

    /// The group commit: the oldest batches queued (all of them, or a prefix: the rest were made
    /// while these were in flight) are appended as one, applied, and their events finish.
    mutating func flush(all: Bool = false) {
        guard !pending.isEmpty else { return }
        let count = all ? pending.count : 1 + Int(random.next() % UInt64(pending.count))
        var batch = pending.prefix(count).flatMap(\.records)
        changelog.coalesceProgress(&batch)
        let items = pending.prefix(count).flatMap(\.items)
        pending.removeFirst(count)
        append(batch)
        for item in items {
            durable.insert(item.offset)
            scheduler.finish(offset: item.offset, key: item.key)
        }
        checkProgress()
        startDeferred()
        pump()
    }

    mutating func append(_ batch: [ShardChangelog.Record]) {
        let base = Int64(log.reduce(0) { $0 + $1.count })
        log.append(batch.enumerated().map { ShardChangelog.Record(key: $1.key, value: $1.value, offset: base + Int64($0)) })
        changelog.apply(log[log.count - 1])
    }

    /// Sends the outbox, then (maybe after a crash in between) tombstones it.
    mutating func forward(thenCrash crash: Bool) {
        let outbox = changelog.pendingOutbox
        guard !outbox.isEmpty else { return }
        forwarded += outbox.map { ($0.id, $0.event) }
        if crash { return restart(compact: random.next() % 2 == 0) }
        append(changelog.forwardedRecords(ids: outbox.map(\.id)))
    }

    /// The committer: the group's offset becomes the shard's committable one.
    mutating func commitGroup() {
        groupCommitted = scheduler.committableOffset
        checkProgress()
    }

    /// Every offset the changelog or the group calls done has its batch in the log.
    mutating func checkProgress() {
        let next = max(changelog.nextOffset, groupCommitted)
        if let missing = (0..<next).first(where: { !durable.contains($0) }) {
            violations.append("offset \(missing) is below the committed offset \(next) but its event is not handled durably")
        }
        for range in changelog.handledAbove.ranges {
            if let missing = range.first(where: { !durable.contains($0) }) {
                violations.append("offset \(missing) is recorded as handled but its event is not")
            }
        }
    }

    /// The process dies: everything in memory is lost; the next owner replays the (maybe
    /// compacted) changelog and the group redelivers from its committed offset.
    mutating func restart(compact: Bool) {
        if compact {
            let flat = log.flatMap { $0 }
            var newest: [[UInt8]: Int] = [:]
            for (index, record) in flat.enumerated() { newest[record.key] = index }
            log = [flat.enumerated().filter { newest[$0.element.key] == $0.offset }.map(\.element)]
        }
        zombies.merge(attempts) { first, _ in first }
        attempts = [:]
        batchZombies += batches.keys.sorted().compactMap { batches[$0]?.running }
        batches = [:]
        liveEntries = []
        pending = []
        deferred = []
        changelog = ShardChangelog(rememberedPerKey: remembered)
        for batch in log { changelog.apply(batch) }
        scheduler = ShardScheduler(startOffset: changelog.nextOffset, capacity: capacity, maxConcurrent: maxConcurrent, maxSpan: maxSpan)
        cursor = groupCommitted
        intakeOpen = true
        checkProgress()
    }

    /// A rebalance: the shard takes nothing more and drops what waits; its running handlers get
    /// `steps` steps (the rebalance timeout); what still runs is abandoned, the batches not yet
    /// appended are lost, the finished ones committed; then the next owner takes over.
    mutating func rebalance(steps: Int) {
        intakeOpen = false
        scheduler.dropWaiting()
        for _ in 0..<steps where scheduler.runningCount + scheduler.releasedCount > 0 {
            switch random.next() % 3 {
            case 0: tick()
            case 1: flush()
            default: forward(thenCrash: false)
            }
        }
        zombies.merge(attempts) { first, _ in first }
        attempts = [:]
        batchZombies += batches.keys.sorted().compactMap { batches[$0]?.running }
        batches = [:]
        liveEntries = []
        pending = []
        deferred = []
        commitGroup()
        restart(compact: random.next() % 2 == 0)
    }

    // MARK: Running

    /// Runs the chaos for a while, then to completion without failures; returns what went wrong.
    mutating func run() -> [String] {
        for _ in 0..<Int(50 + random.next() % 400) {
            switch random.next() % 100 {
            case 0..<30: _ = deliver()
            case 30..<55: tick()
            case 55..<70: flush()
            case 70..<78: forward(thenCrash: random.next() % 4 == 0)
            case 78..<85: commitGroup()
            case 85..<89: zombieReturns()
            case 89..<92: cursor = min(cursor, groupCommitted)  // the fetch rewinds: offsets arrive again
            case 92..<96: restart(compact: random.next() % 2 == 0)
            default: rebalance(steps: Int(random.next() % 8))
            }
            if !violations.isEmpty { return violations }
        }
        // Quiet: no more failures; everything is delivered, handled, committed and forwarded.
        var guardSteps = 0
        while guardSteps < 100_000 {
            guardSteps += 1
            let delivered = deliver()
            tick()
            flush(all: true)
            forward(thenCrash: false)
            commitGroup()
            if !delivered && cursor >= Int64(inputs.count) && attempts.isEmpty && batches.isEmpty && pending.isEmpty && deferred.isEmpty && scheduler.count == 0
                && changelog.pendingOutbox.isEmpty { break }
            if !violations.isEmpty { return violations }
        }
        return violations + finalCheck()
    }

    /// Exactly once: each key's state lists its distinct ids in offset order (the dead-lettered
    /// left out), each expected event was forwarded under its id with one content, and every
    /// input is done.
    func finalCheck() -> [String] {
        var problems: [String] = []
        // Everything is done as the changelog holds it: a redelivery from any offset runs nothing.
        // (The group's offset itself may be back at the changelog's after a restart whose last
        // inputs were skipped, not handled: the skips are in memory only until the next batch.)
        if let undone = (0..<Int64(inputs.count)).first(where: { !changelog.isDone($0) }) {
            problems.append("offset \(undone) of \(inputs.count) is not done (changelog at \(changelog.nextOffset), handled above "
                            + "\(changelog.handledAbove.ranges), scheduler at \(scheduler.committableOffset) holding \(scheduler.count), fetched to \(cursor))")
        }
        var expectedStates: [String: [String]] = [:]
        var expectedForwarded: [String: [UInt8]] = [:]
        var seen: Set<String> = []
        for input in inputs where seen.insert(input.key + "\u{0}" + input.id).inserted {
            if input.hangs.isSuperset(of: 1...Self.maxAttempts) {
                expectedForwarded["\(input.id)/dead-letter"] = Array("dead:\(input.id)".utf8)
            } else {
                expectedStates[input.key, default: []].append(input.id)
                expectedForwarded[EmittedEventID.derive(inputID: input.id, agent: Self.agent, index: 0)] = Array("\(input.key):\(input.id)".utf8)
            }
        }
        let states = changelog.states.mapValues { String(decoding: $0, as: UTF8.self).split(separator: ",").map(String.init) }
        for (key, ids) in expectedStates where states[key] != ids {
            problems.append("key \(key) handled \(states[key] ?? []) instead of \(ids) (once each, in order)")
        }
        var forwardedByID: [String: [UInt8]] = [:]
        for (id, event) in forwarded {
            if let earlier = forwardedByID[id], earlier != event { problems.append("\(id) forwarded with two contents") }
            forwardedByID[id] = event
        }
        if forwardedByID != expectedForwarded {
            let missing = expectedForwarded.keys.filter { forwardedByID[$0] == nil }.sorted().prefix(3)
            let extra = forwardedByID.keys.filter { expectedForwarded[$0] == nil }.sorted().prefix(3)
            problems.append("forwarded \(forwardedByID.count) ids, expected \(expectedForwarded.count): missing \(missing), extra \(extra)")
        }
        return problems
    }
}
