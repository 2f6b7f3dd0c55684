import ClusterCore
import EventLog
import Foundation
import GanglionWire
import Metrics
import SwiftProtobuf

/// One partition of an agent type's input, hosted here (DESIGN §2 ShardHost): the entities of its
/// keys, rebuilt from the shard's compacted changelog partition, and every handled event made
/// durable as one changelog batch (state, handled id, outbox, offset) before its emitted events
/// are forwarded. It runs a ``ShardHandler`` and reads and writes through a ``ShardIO``.
public actor AgentShard {
    /// An input event taken by the shard: a reference, so the scheduler, a batch and the
    /// handler's attempt share it rather than copy (and retain) each of its fields.
    final class Input: Sendable {
        /// The record (nil for a timer).
        let delivered: ShardInput?
        /// Nil when the record is not an event envelope (it goes to the dead letters).
        let event: EventEnvelope?
        /// The timer firing (instead of a record).
        let timer: ShardTimer?

        init(delivered: ShardInput?, event: EventEnvelope?, timer: ShardTimer? = nil) {
            self.delivered = delivered
            self.event = event
            self.timer = timer
        }
    }

    let handler: any ShardHandler
    let io: any ShardIO
    /// Where emitted events go (their own topic, or a shadow replay's).
    let route: @Sendable (String) -> String
    let partition: UInt32
    /// Told once when the shard fails (its changelog cannot be written), so the host stops.
    let onFailure: @Sendable (any Error) -> Void
    /// Told each time the shard has finished every input it held (its committable offset has
    /// caught up with what it was given), so its host can commit now rather than at its next tick.
    let onIdle: @Sendable () -> Void
    /// The shard's state as its changelog holds it.
    public private(set) var changelog = ShardChangelog()
    var scheduler: ShardScheduler<Input>
    private let capacity: Int
    private let maxConcurrent: Int
    private var roomWaiters: [CheckedContinuation<Void, Never>] = []
    private var failure: (any Error)?
    private var closed = false
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    private var forwarding = false
    private var forwardAgain = false
    private var forwarder: Task<Void, Never>?
    /// Handler attempts' deadlines.
    let deadlines = DeadlineWatch()
    private var random = SystemRandomNumberGenerator()
    /// Timers handed to the scheduler and not finished.
    private var queuedTimers: Set<ShardTimer> = []
    private var lastExtraOffset: Int64 = 0
    private var timerLoop: Task<Void, Never>?
    /// How many times the timer loop has looked for due timers (it sleeps while none is due).
    public private(set) var timerChecks = 0
    /// Wakes the timer loop when a timer becomes due sooner than it would look (``noteTimers()``).
    private let timerWake = LoopWake()
    /// When the timer loop looks next (ms since the epoch; `.max` while it is looking).
    private var timerLoopLooksAt = Int64.max
    /// How long the timer loop sleeps with no timer due sooner: the granularity of passivating
    /// idle entities (minutes by default), and nothing else.
    private static let timerLoopIdleMilliseconds: Int64 = 2_000
    /// Changelog appends waiting for the batch in flight (one entry per caller), and their callers.
    private var pendingRecords: [[ShardChangelog.Record]] = []
    private var pendingWaiters: [@Sendable (isolated AgentShard, (any Error)?) -> Void] = []
    private var appending = false
    /// Why an append failed: the changelog takes nothing more from this shard.
    private var appendFailure: (any Error)?
    /// The changelog's idempotent writer: producer id, epoch, next sequence.
    private var writer: (id: Int64, epoch: Int16, sequence: Int32)?
    /// Which entities stay in memory (passivation).
    private var residency: EntityResidency
    /// Inputs at or past this offset are not handled (the end of a replay's range).
    let endOffset: Int64?
    /// How far past the committable offset an input is taken (``ShardScheduler/maxSpan``).
    private let maxSpan: Int64
    /// How long past its deadline an attempt that ignores cancellation keeps its key before it
    /// is abandoned (counted as failed, its late result discarded).
    let deadlineGrace: Duration
    /// The handler attempts running now, by token (the attempt's fence): an attempt abandoned —
    /// past its deadline plus the grace, or by a drain out of time — leaves the map, and its late
    /// result, finding no token, is discarded.
    var attempts: [Int: Int64] = [:]
    var lastAttempt = 0
    /// The task running each held input (by offset): an attempt past its deadline cancels it.
    var runners: [Int64: Task<Void, Never>] = [:]
    /// Set when a drain ran out of time: nothing more is written, running attempts are abandoned.
    var revoked = false
    /// The host's budget of attempts running at once across its shards (nil: no budget).
    let slots: HandlerSlots?
    /// When this member was assigned the partition, while the handoff waits for the first input
    /// finished here (``measureHandoff(since:eventsWaiting:)``).
    private var handoffSince: ContinuousClock.Instant?
    /// Events handled since ``handledCounter`` was last told.
    var handledSinceCount = 0
    /// `ganglion_agent_events_handled_total` of this shard's agent.
    private let handledCounter: Counter
    /// While set, ``pump()`` only notes that it was wanted (``withPumpHeld(_:)``).
    private var holdingPump = false
    private var pumpWanted = false
    /// Inputs waiting for their key's queued changelog records to be applied (``untilApplied(_:)``).
    private var appliedWaiters: [(key: String, waiter: CheckedContinuation<Void, Never>)] = []

    /// A shard of `partition` running `handler` over `io`: at most `capacity` events held and
    /// `maxConcurrent` keys at once, none more than `maxSpan` offsets past the committable one;
    /// an attempt still running `deadlineGrace` past its deadline is abandoned; emitted events go
    /// to `route(topic)` (a shadow replay's topics); `onFailure` is told once when the shard
    /// cannot go on, `onIdle` each time it has finished every input it held.
    public init(handler: any ShardHandler, io: any ShardIO, route: @escaping @Sendable (String) -> String = { $0 }, endOffset: Int64? = nil,
                partition: UInt32, capacity: Int, maxConcurrent: Int, maxSpan: Int64 = 4096, deadlineGrace: Duration = .seconds(1),
                residency: EntityResidency = EntityResidency(), slots: HandlerSlots? = nil,
                onFailure: @escaping @Sendable (any Error) -> Void = { _ in }, onIdle: @escaping @Sendable () -> Void = {}) {
        self.onIdle = onIdle
        handledCounter = AgentMetrics.handledCounter(agent: handler.name)
        self.slots = slots
        self.maxSpan = max(1, maxSpan)
        self.deadlineGrace = deadlineGrace
        self.residency = residency
        self.endOffset = endOffset
        self.onFailure = onFailure
        self.route = route
        self.handler = handler
        self.io = io
        self.partition = partition
        self.capacity = capacity
        self.maxConcurrent = maxConcurrent
        scheduler = ShardScheduler(startOffset: 0, capacity: capacity, maxConcurrent: maxConcurrent, maxSpan: self.maxSpan)
    }

    /// The offset the group may commit: every input below it is handled durably (or skipped).
    public var committableOffset: Int64 { scheduler.committableOffset }

    /// Replays the changelog partition, fences its previous writer, then forwards what a crash
    /// left in the outbox.
    public func recover() async throws {
        let started = ContinuousClock.now
        var records = try await io.readChangelog(partition: partition, from: 0)
        let restoredRecords = records.count, restoredBytes = records.reduce(0) { $0 + $1.key.count + ($1.value?.count ?? 0) }
        // A chunk at a time, letting other work run between (the host's other shards keep
        // handling while a large shard rebuilds).
        for start in stride(from: 0, to: records.count, by: 2_000) {
            changelog.apply(Array(records[start..<min(records.count, start + 2_000)]))
            await Task.yield()
        }
        // The writer's next epoch, stored at once: the log refuses the previous owner's batches
        // from here on (a zombie that missed its revocation fails instead of writing under us).
        let (id, epoch) = try await io.initWriter(resuming: changelog.writerID)
        writer = (id, epoch, 0)
        let replayed = records.last?.offset ?? -1
        try await append(changelog.writerRecords(producerID: id))
        // What the previous owner wrote between the replay and the fence.
        records = try await io.readChangelog(partition: partition, from: replayed + 1).filter { ($0.offset ?? -1) > replayed }
        changelog.apply(records)
        scheduler = ShardScheduler(startOffset: changelog.nextOffset, capacity: capacity, maxConcurrent: maxConcurrent, maxSpan: maxSpan)
        // Entities beyond the bound leave memory at once (the oldest replayed first).
        let now = Self.now()
        for key in changelog.residentKeys.sorted() { residency.touch(key, now: now) }
        passivateIdle()
        try await forwardOutbox()
        AgentMetrics.restored(agent: handler.name, seconds: (ContinuousClock.now - started) / .seconds(1), records: restoredRecords, bytes: restoredBytes)
        timerLoop = Task { await self.runTimers() }
    }

    /// Measures this shard's handoff (`ganglion_agent_handoff_seconds`) from `assigned`, the
    /// moment its member was assigned the partition: to the first input it finishes (handled,
    /// dead-lettered, or passed over) when events were waiting for it, or to now — the shard is
    /// rebuilt and ready to handle — when none were.
    public func measureHandoff(since assigned: ContinuousClock.Instant, eventsWaiting: Bool) {
        if eventsWaiting {
            handoffSince = assigned
        } else {
            AgentMetrics.handoff(agent: handler.name, seconds: (ContinuousClock.now - assigned) / .seconds(1))
        }
    }

    /// The first input since the handoff began is finished: the handoff ends.
    private func endHandoff() {
        guard let since = handoffSince else { return }
        handoffSince = nil
        AgentMetrics.handoff(agent: handler.name, seconds: (ContinuousClock.now - since) / .seconds(1))
    }

    /// An input passed over (handled before a restart, past a replay's end, or filtered out):
    /// only the offset moves.
    private func skip(_ offset: Int64) {
        try? scheduler.skip(offset: offset)
        endHandoff()
    }

    /// Hands due timers to the scheduler (in order with their keys' events) until the shard closes.
    private func runTimers() async {
        while !closed && failure == nil && !Task.isCancelled {
            timerChecks += 1
            let now = Self.now()
            for timer in changelog.dueTimers(at: now) where !queuedTimers.contains(timer) {
                guard queuedTimers.count < capacity else { break }
                queuedTimers.insert(timer)
                lastExtraOffset -= 1
                scheduler.enqueueExtra(.init(offset: lastExtraOffset, key: timer.key, payload: Input(delivered: nil, event: nil, timer: timer)))
            }
            pump()
            passivateIdle()
            // Due timers already handed over wait for their keys; the next one to hand over
            // decides. Nothing due: a long sleep, which a timer scheduled meanwhile ends.
            let wait = max(1, min(Self.timerLoopIdleMilliseconds, (changelog.nextTimerDue(excluding: queuedTimers) ?? .max) - now))
            timerLoopLooksAt = now + wait
            await timerWake.wait(upTo: .milliseconds(wait))
            timerLoopLooksAt = .max
        }
    }

    /// Wakes the timer loop when a timer is due before it would look: one was scheduled, or one
    /// handed over finished and left room for due ones held back.
    private func noteTimers() {
        guard timerLoopLooksAt != .max, let due = changelog.nextTimerDue(excluding: queuedTimers), due < timerLoopLooksAt else { return }
        timerWake.signal()
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Entities in memory, and out of it (their state in the changelog).
    public var entityCounts: (live: Int, passivated: Int) { (changelog.residentKeys.count, changelog.passivatedCount) }

    /// Passivates the entities the residency policy lets go (never one with events queued or running).
    private func passivateIdle() {
        let scheduler = self.scheduler
        for key in residency.evictions(now: Self.now(), isBusy: { scheduler.isBusy($0) }) where changelog.passivate(key) {
            AgentMetrics.passivated(agent: handler.name)
        }
    }

    /// Brings `key`'s state and handled ids back from the changelog if they left memory.
    private func ensureResident(_ key: String) async throws {
        guard changelog.isPassivated(key) else { return }
        let offsets = changelog.reloadOffsets(of: key)
        var records: [ShardChangelog.Record] = []
        var remaining = offsets[...]
        while let next = remaining.first {
            // One read brings the record at `next` and often more of the key's (nearby) records.
            let read = try await io.changelogRecords(partition: partition, at: next)
            guard read.first?.offset == next else { throw AgentError.stateUnavailable(key: key, offsets: offsets) }
            let found = Dictionary(read.map { ($0.offset ?? -1, $0) }, uniquingKeysWith: { first, _ in first })
            while let offset = remaining.first, let record = found[offset] {
                records.append(record)
                remaining.removeFirst()
            }
        }
        changelog.reload(key, from: records)
        AgentMetrics.reloaded(agent: handler.name)
    }

    /// Stops the shard without draining (its host is gone): takes nothing more, fires no timers.
    public func stop() {
        closed = true
        timerLoop?.cancel()
        wakeRoomWaiters()
    }

    /// Lets a submitter waiting for room look again (room was made, or the shard closed or failed).
    private func wakeRoomWaiters() {
        let waiters = roomWaiters
        roomWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// Takes the next input records (in offset order): waits while the shard's queue is full or
    /// an input is too far past the committable offset (the backpressure that stops the fetcher),
    /// runs each as soon as its key is free. Inputs below the changelog's offset, or handled above
    /// it, were handled before and are skipped; a failure of the shard (its changelog cannot be
    /// written) is thrown.
    public nonisolated func submit(_ records: [ShardInput]) async throws {
        // Decoded and judged by the handler's filter before the shard's turn (neither reads the
        // shard's state): the shard then takes the batch without giving up its turn per record,
        // which let its handlers' work queue ahead of every record and starved it of inputs.
        var screened: [Screened] = []
        screened.reserveCapacity(records.count)
        for delivered in records { screened.append(await screen(delivered)) }
        try await take(screened)
    }

    /// Takes one input record (see ``submit(_:)-([ShardInput])``).
    public nonisolated func submit(_ delivered: ShardInput) async throws {
        try await submit([delivered])
    }

    /// An input record decoded, with the filter's verdict on its event (nil: none asked).
    struct Screened: Sendable {
        var delivered: ShardInput
        /// Nil when the record is not an event envelope.
        var event: EventEnvelope?
        /// Whether the handler takes the event; an error is thrown only if the record is not
        /// skipped for another reason first (as when the filter ran in turn).
        var accepted: Result<Bool, any Error>?
    }

    private nonisolated func screen(_ delivered: ShardInput) async -> Screened {
        let event = delivered.value.flatMap { try? EventEnvelope(serializedBytes: $0) }.flatMap { $0.id.isEmpty ? nil : $0 }
        guard let event, endOffset.map({ delivered.offset < $0 }) ?? true else { return Screened(delivered: delivered, event: event, accepted: nil) }
        do {
            return Screened(delivered: delivered, event: event, accepted: .success(try await accepts(event)))
        } catch {
            return Screened(delivered: delivered, event: event, accepted: .failure(error))
        }
    }

    private func take(_ records: [Screened]) async throws {
        // Started together once all are taken (or before waiting for room).
        defer { flushPump() }
        for record in records { try await take(record) }
    }

    /// Starts what ``pump()`` was held from.
    private func flushPump() {
        if pumpWanted {
            pumpWanted = false
            pump()
        }
    }

    private func take(_ screened: Screened) async throws {
        let delivered = screened.delivered, event = screened.event
        if let failure { throw failure }
        guard !closed else { return }
        let offset = delivered.offset
        guard offset >= scheduler.committableOffset else { return }
        while !scheduler.hasRoom(for: offset) && !closed && failure == nil {
            flushPump()
            await withCheckedContinuation { roomWaiters.append($0) }
        }
        if let failure { throw failure }
        guard !closed else { return }
        if changelog.isDone(offset) {
            // Handled before a restart while an older event pinned the committed offset.
            skip(offset)
            return
        }
        if let endOffset, offset >= endOffset {
            skip(offset)
            return
        }
        if event != nil, !(try screened.accepted?.get() ?? true) {
            // Filtered out: only the offset moves (a replay filters the same way).
            skip(offset)
            return
        }
        let key = event.map { $0.key.isEmpty ? "_" : String(decoding: $0.key, as: UTF8.self) } ?? "_"
        do {
            try scheduler.enqueue(.init(offset: offset, key: key, payload: Input(delivered: delivered, event: event)))
        } catch {
            return  // out of order: a redelivered offset already taken
        }
        pumpWanted = true
    }

    /// Starts what may start: events of keys in memory together as one batch
    /// (``startBatch(_:)``), anything else in a task of its own.
    private func pump() {
        guard !holdingPump else {
            pumpWanted = true
            return
        }
        var batch: [ShardBatch.Entry] = []
        while let item = scheduler.start() {
            if let attempt = batchable(item) {
                lastAttempt += 1
                attempts[lastAttempt] = item.offset
                batch.append(ShardBatch.Entry(item: item, token: lastAttempt, attempt: attempt))
            } else {
                runners[item.offset] = Task { await self.run(item, attempt: 1) }
            }
        }
        if !batch.isEmpty { startBatch(batch) }
    }

    /// Runs `body` with starting held, then starts at once all it made ready (one batch rather
    /// than one per finished input).
    private func withPumpHeld(_ body: () -> Void) {
        let outer = holdingPump
        holdingPump = true
        body()
        holdingPump = outer
        if !outer && pumpWanted {
            pumpWanted = false
            pump()
        }
    }

    /// Handles one input: a redelivery of a handled event only moves the offset; otherwise the
    /// handler runs (``attempt(_:_:event:timer:)``) and its outcome is made durable in one
    /// changelog batch, after which the input is finished.
    func run(_ item: ShardScheduler<Input>.Item, attempt number: Int) async {
        do {
            let offset = item.offset
            try await ensureResident(item.key)
            // What it reads (state, handled ids, timers) must be what the changelog will hold.
            await untilApplied(item.key)
            if revoked { return }
            if let timer = item.payload.timer {
                // Cancelled or replaced since it was due: nothing to run.
                guard changelog.isPending(timer) else { return finished(item) }
                await attempt(item, number, event: Self.timerEvent(timer), timer: timer)
            } else if let event = item.payload.event {
                if let outcome = changelog.outcome(ofHandled: event.id, key: item.key) {
                    // Asked again (a retry with the same id): the recorded reply goes out again,
                    // as an error if the request went to the dead letters.
                    if isAsk(event) {
                        let failed = DeadLetterOutcome.error(in: outcome)
                        if let reply = try? reply(to: event, outcome: failed.map { Array($0.utf8) } ?? outcome, error: failed) {
                            try? await io.send([OutgoingEvent(topic: route(reply.topic), key: reply.key, value: reply.event, createIfMissing: false)])
                        }
                    }
                    // Recorded as handled: a replay from a committed offset below it skips it
                    // even after the window of remembered ids has moved past its id.
                    let committable = scheduler.committableOffset(finishing: item.offset, key: item.key)
                    enqueue(changelog.records(recognising: offset, committableOffset: committable)) { shard, error in
                        shard.settled(item, error: error)
                    }
                } else {
                    await attempt(item, number, event: event, timer: nil)
                }
            } else {
                let raw = item.payload.delivered?.value ?? []
                commit(try deadLetter(raw: raw, id: "\(item.payload.delivered?.topic ?? "")-\(partition)-\(offset)", key: "_", offset: offset,
                                      error: "the record is not an event envelope", attempts: 0), item)
            }
        } catch {
            settled(item, error: error)
        }
    }

    /// Runs one attempt of the handler in this (the input's) task, cancelled at the policy's
    /// deadline and abandoned at the deadline plus the grace if it still runs (a handler that
    /// ignores cancellation): the attempt then counts as failed, and its fence (its token in
    /// ``attempts``) makes whatever it returns later be discarded. A failed attempt is retried
    /// in a task of its own after the policy's delay, or goes to the dead letters.
    private func attempt(_ item: ShardScheduler<Input>.Item, _ number: Int, event: EventEnvelope, timer: ShardTimer?) async {
        let handler = self.handler
        let milliseconds = handler.retryPolicy.attemptDeadlineMilliseconds
        // The deadline runs from when the host's budget lets the attempt start.
        if let slots { await slots.acquire() }
        guard !revoked else {
            slots?.release()
            return
        }
        lastAttempt += 1
        let token = lastAttempt
        attempts[token] = item.offset
        let input = ShardAttempt(event: event, key: item.key, partition: partition, offset: item.offset, attempt: number,
                                 state: changelog.state(of: item.key), timer: timer?.name)
        let runner = runners[item.offset]
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(milliseconds))
        let watch = deadlines.watch(until: deadline, expire: { runner?.cancel() }, thenUntil: deadline.advanced(by: deadlineGrace)) { [weak self] in
            Task { await self?.attemptEnded(token, item, number, event: event, timer: timer, .failure(AgentError.deadlineExceeded(milliseconds: milliseconds))) }
        }
        let outcome: Result<ShardHandlerResult, any Error>
        do { outcome = .success(try await handler.handle(input)) } catch { outcome = .failure(error) }
        let expired = deadlines.end(watch)
        if case .failure = outcome, expired {
            // Past the deadline only if the attempt did not finish first.
            attemptEnded(token, item, number, event: event, timer: timer, .failure(AgentError.deadlineExceeded(milliseconds: milliseconds)), returned: true)
        } else {
            attemptEnded(token, item, number, event: event, timer: timer, outcome, returned: true)
        }
    }

    /// An attempt ended: by its handler's return (`returned`), or abandoned. Only the first end of
    /// an attempt counts; the input is then committed, retried or dead-lettered.
    func attemptEnded(_ token: Int, _ item: ShardScheduler<Input>.Item, _ number: Int, event: EventEnvelope, timer: ShardTimer?,
                              _ outcome: Result<ShardHandlerResult, any Error>, returned: Bool = false) {
        guard attempts.removeValue(forKey: token) != nil else { return }
        slots?.release()
        guard !revoked else { return }
        if !returned { AgentMetrics.abandoned(agent: handler.name) }
        do {
            switch outcome {
            case .success(let result):
                commit(try handledEvent(result, item, event: event, timer: timer), item)
            case .failure(let error):
                try attemptFailed(item, number, event: event, error)
            }
        } catch let error as AgentError where error.isEffectTooLarge {
            do { try attemptFailed(item, number, event: event, error) } catch { settled(item, error: error) }
        } catch {
            settled(item, error: error)
        }
    }

    /// A failed attempt (its token already ended): retried after the policy's backoff, or given
    /// up to the dead letters.
    func attemptFailed(_ item: ShardScheduler<Input>.Item, _ number: Int, event: EventEnvelope, _ error: any Error) throws {
        switch handler.retryPolicy.decision(afterAttempt: number, using: &random) {
        case .retry(let delay):
            AgentMetrics.retried(agent: handler.name)
            runners[item.offset] = Task {
                try? await Task.sleep(for: .milliseconds(delay))
                await self.run(item, attempt: number + 1)
            }
        case .deadLetter:
            commit(try deadLetter(raw: (try? event.serializedBytes()) ?? [], id: event.id, key: item.key, offset: item.offset,
                                  error: "\(error)", attempts: number), item)
        }
    }

    /// What a successful attempt changes: its state, emitted events (an ask's reply among them),
    /// outcome and timers.
    func handledEvent(_ result: ShardHandlerResult, _ item: ShardScheduler<Input>.Item, event: EventEnvelope, timer: ShardTimer?) throws -> HandledEvent {
        var emitted = try result.emitted.map { emitted in
            OutboxEntry(id: emitted.event.id, topic: emitted.topic, key: emitted.event.key.isEmpty ? nil : Array(emitted.event.key),
                        event: try emitted.event.serializedBytes())
        }
        if isAsk(event) { emitted.append(try reply(to: event, outcome: result.outcome, error: nil)) }
        try Self.checkSizes(of: result, emitted: emitted, key: item.key)
        var handled = HandledEvent(eventID: event.id, key: item.key, offset: item.offset, newState: result.newState, emitted: emitted,
                                   outcome: result.outcome, timerChanges: result.timerChanges)
        handled.firedTimer = timer
        return handled
    }

    /// The most bytes of one record and one batch the node's log takes by default (the shard's
    /// changelog records and emitted events are checked against them before anything is stored).
    static let recordLimit = LogConfiguration().maxRecordBytes, batchLimit = LogConfiguration().maxBatchBytes

    /// Refuses effects the log would refuse (``AgentError/effectTooLarge(what:bytes:limit:)``):
    /// a state or an emitted event over a record, or an event's records together over a batch.
    /// Sizes count the record's key and value and a margin for its framing.
    static func checkSizes(of result: ShardHandlerResult, emitted: [OutboxEntry], key: String) throws {
        let framing = 64
        var total = 0
        if case .some(.some(let state)) = result.newState {
            let bytes = state.count + key.utf8.count + framing
            guard bytes <= recordLimit else { throw AgentError.effectTooLarge(what: "the new state of key \(key)", bytes: bytes, limit: recordLimit) }
            total += bytes
        }
        for entry in emitted {
            let bytes = outboxBytes(entry)
            guard bytes <= recordLimit else {
                throw AgentError.effectTooLarge(what: "emitted event \(entry.id) to \(entry.topic)", bytes: bytes, limit: recordLimit)
            }
            total += bytes
        }
        guard total + result.outcome.count <= batchLimit - 4096 else {
            throw AgentError.effectTooLarge(what: "the state and emitted events of one event together", bytes: total + result.outcome.count, limit: batchLimit)
        }
    }

    /// The input's changes are durable (`error` nil: it is finished, its key's next input may
    /// start), or could not be made so: the changelog could not be written, the input stays
    /// unfinished (the committable offset never passes it), and the shard takes nothing more —
    /// unless a drain ran out of time, when the input is the next owner's and the shard, which
    /// is leaving, has not failed.
    func settled(_ item: ShardScheduler<Input>.Item, error: (any Error)?) {
        if let error {
            if !revoked { fail(error) }
            return
        }
        finished(item)
    }

    /// The input is finished: its key's next input may start.
    private func finished(_ item: ShardScheduler<Input>.Item) {
        endHandoff()
        runners[item.offset] = nil
        if let timer = item.payload.timer {
            queuedTimers.remove(timer)
            noteTimers()
        }
        scheduler.finish(offset: item.offset, key: item.key)
        if scheduler.count == 0 && item.offset >= 0 { onIdle() }
        residency.touch(item.key, now: Self.now())
        if residency.liveCount > residency.maxLive { passivateIdle() }
        wakeRoomWaiters()
        if !closed { pump() }
        if closed && scheduler.runningCount == 0 && scheduler.releasedCount == 0 {
            let drained = drainWaiters
            drainWaiters = []
            for waiter in drained { waiter.resume() }
        }
    }

    /// Gives the partition up: takes nothing more, drops what waits (the next owner gets it),
    /// and returns once the running handlers finished and their batches are durable — so the next
    /// owner never writes the changelog at the same time — or once `timeout` passed (the group's
    /// rebalance timeout): then the attempts still running are abandoned (their late results are
    /// discarded, their events left unfinished for the next owner, which skips the handled ones)
    /// and the shard writes nothing more.
    public func drain(timeout: Duration = .seconds(5)) async {
        closed = true
        timerLoop?.cancel()
        scheduler.dropWaiting()
        wakeRoomWaiters()
        let expiry = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { await self?.abandonRunning(after: timeout) }
        }
        while scheduler.runningCount + scheduler.releasedCount > 0 && failure == nil && !revoked {
            await withCheckedContinuation { drainWaiters.append($0) }
        }
        expiry.cancel()
        // Forwarded now rather than again by the next owner (which would send the same ids twice).
        await forwarder?.value
    }

    /// The drain ran out of time: the running attempts are abandoned and nothing more is written.
    private func abandonRunning(after timeout: Duration) {
        guard closed, scheduler.runningCount + scheduler.releasedCount > 0 else { return }
        revoked = true
        let error = AgentError.abandonedByDrain(milliseconds: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        appendFailure = appendFailure ?? error
        for _ in attempts { slots?.release() }
        attempts = [:]
        for runner in runners.values { runner.cancel() }
        resumeAppliedWaiters()
        let drained = drainWaiters
        drainWaiters = []
        for waiter in drained { waiter.resume() }
    }

    /// The event a timer's handler sees: type `ganglion.timer`, the timer's data, an id unique to
    /// this firing.
    static func timerEvent(_ timer: ShardTimer) -> EventEnvelope {
        var event = EventEnvelope()
        event.id = "timer/\(timer.key)/\(timer.name)/\(timer.fireAt)"
        event.specVersion = EventEnvelope.cloudEventsSpecVersion
        event.source = "/agents/timers"
        event.type = "ganglion.timer"
        event.time = Google_Protobuf_Timestamp(date: Date(timeIntervalSince1970: Double(timer.fireAt) / 1000))
        event.key = Data(timer.key.utf8)
        event.data = Data(timer.data)
        event.extensions = ["timer": timer.name]
        return event
    }

    /// Asks are taken by the agent they name (whatever its types and filter) and skipped by others.
    private nonisolated func accepts(_ event: EventEnvelope) async throws -> Bool {
        if let asked = event.extensions[AgentAsk.extensionKey] { return asked == handler.name }
        return try await handler.accepts(event)
    }

    private nonisolated func isAsk(_ event: EventEnvelope) -> Bool { event.extensions[AgentAsk.extensionKey] == handler.name }

    /// The reply to an ask: to `<agent>.replies` under the ask's key, caused by the ask.
    private func reply(to event: EventEnvelope, outcome: [UInt8], error: String?) throws -> OutboxEntry {
        // An emitted event's envelope (time, causation, correlation and trace context carried
        // over), with the reply's own id and source.
        var reply = EmittedEvent.envelope(causedBy: event, agent: handler.name, index: 0, type: AgentAsk.replyType, key: event.key,
                                          data: Data(outcome), contentType: "application/json")
        reply.id = AgentAsk.replyID(event.id)
        reply.source = "/agents/\(handler.name)"
        if let error { reply.extensions = [AgentAsk.errorExtensionKey: error] }
        return OutboxEntry(id: reply.id, topic: AgentAsk.repliesTopic(handler.name), key: event.key.isEmpty ? nil : Array(event.key),
                           event: try reply.serializedBytes())
    }

    /// The event for `<agent>.dlq`, with its error, attempts and agent name.
    private func deadLetter(raw: [UInt8], id: String, key: String, offset: Int64, error: String, attempts: Int) throws -> HandledEvent {
        var letter = EventEnvelope()
        letter.id = EmittedEventID.derive(inputID: id, agent: handler.name, index: 0) + "-dead-letter"
        letter.specVersion = EventEnvelope.cloudEventsSpecVersion
        letter.source = "/agents/\(handler.name)"
        letter.type = "ganglion.dead_letter"
        letter.key = Data(key.utf8)
        letter.causationID = id
        letter.extensions = ["error": error, "attempts": String(attempts), "agent": handler.name,
                             "topic": handler.topic, "partition": String(partition), "offset": String(offset)]
        letter.dataContentType = "application/octet-stream"
        letter.data = Data(raw)
        AgentMetrics.deadLettered(agent: handler.name)
        let entry = try fitted(letter, key: Array(key.utf8),
                               whereabouts: "the event is at \(handler.topic)-\(partition)@\(offset); dlq replay reads it from there while it is retained")
        var emitted = [entry]
        if let asked = try? EventEnvelope(serializedBytes: raw), isAsk(asked) {
            emitted.append(try reply(to: asked, outcome: Array(error.utf8), error: error))
        }
        return HandledEvent(eventID: id, key: key, offset: offset, newState: nil, emitted: emitted, outcome: DeadLetterOutcome.marker + Array(error.utf8))
    }

    /// Appends the event's batch (with the offset committable once it is finished) to the
    /// changelog, durable under the node's policy, applies it, forwards the outbox, and finishes
    /// the input.
    private func commit(_ handled: HandledEvent, _ item: ShardScheduler<Input>.Item) {
        let committable = scheduler.committableOffset(finishing: item.offset, key: item.key)
        enqueue(changelog.records(for: handled, committableOffset: committable)) { shard, error in
            if error == nil {
                shard.handledSinceCount += 1
                if !handled.emitted.isEmpty { shard.forwardInBackground() }
            }
            shard.settled(item, error: error)
        }
        release(handled, item)
        startReleased()
    }

    /// The key of an event whose changes are queued for the changelog may run its next event now,
    /// from those changes (``ShardChangelog/queue(_:)``), before they are durable: a later batch
    /// is never durable without the earlier ones. Not an event that fired or changed timers: its
    /// key waits for its batch (timers are read from what is applied).
    private func release(_ handled: HandledEvent, _ item: ShardScheduler<Input>.Item) {
        guard item.offset >= 0, handled.firedTimer == nil, handled.timerChanges.isEmpty, appendFailure == nil, !revoked else { return }
        scheduler.release(offset: item.offset, key: item.key)
    }

    /// Returns once no changelog records of `key` are queued and not applied (at once when none
    /// are), or the changelog failed.
    private func untilApplied(_ key: String) async {
        while changelog.isQueued(key) && appendFailure == nil && !revoked {
            await withCheckedContinuation { appliedWaiters.append((key, $0)) }
        }
    }

    /// Resumes the inputs waiting for keys whose queued records are now applied (all of them
    /// when the changelog failed).
    private func resumeAppliedWaiters() {
        guard !appliedWaiters.isEmpty else { return }
        let failed = appendFailure != nil || revoked
        var still: [(key: String, waiter: CheckedContinuation<Void, Never>)] = []
        for entry in appliedWaiters {
            if failed || !changelog.isQueued(entry.key) { entry.waiter.resume() } else { still.append(entry) }
        }
        appliedWaiters = still
    }

    /// Commits events of distinct keys handled together as one changelog append with one offset
    /// record (``commit(_:_:)`` for each, without an offset record per event).
    func commit(_ events: [(handled: HandledEvent, item: ShardScheduler<Input>.Item)]) {
        guard events.count > 1 else {
            if let only = events.first { commit(only.handled, only.item) }
            return
        }
        let items = events.map(\.item)
        let committable = scheduler.committableOffset(finishingAll: items)
        let emits = events.contains { !$0.handled.emitted.isEmpty }
        enqueue(changelog.records(for: events.map(\.handled), committableOffset: committable)) { shard, error in
            if error == nil {
                shard.handledSinceCount += items.count
                if emits { shard.forwardInBackground() }
            }
            for item in items { shard.settled(item, error: error) }
        }
        for event in events { release(event.handled, event.item) }
        startReleased()
    }

    /// Starts what the released keys made ready once nothing runs: while something does, its end
    /// (or an append's) starts them with the rest, in one batch rather than a small one each.
    private func startReleased() {
        if !closed && scheduler.runningCount == 0 { pump() }
    }

    /// Appends records to the changelog, durable under the node's policy, then applies them.
    private func append(_ records: [ShardChangelog.Record]) async throws {
        guard !records.isEmpty else { return }
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            enqueue(records) { _, error in
                if let error { waiter.resume(throwing: error) } else { waiter.resume() }
            }
        }
    }

    /// Queues records for the changelog; `done` runs on the shard once they are durable and
    /// applied, or failed. Appends of concurrent handlers are committed together: while one batch
    /// is in flight, the next collects every record that arrives (group commit), so a busy shard
    /// makes one round trip for many events.
    private func enqueue(_ records: [ShardChangelog.Record], done: @escaping @Sendable (isolated AgentShard, (any Error)?) -> Void) {
        if let error = appendFailure ?? (revoked ? AgentError.abandonedByDrain(milliseconds: 0) : nil) { return done(self, error) }
        guard !records.isEmpty else { return done(self, nil) }
        changelog.queue(records)
        pendingRecords.append(records)
        pendingWaiters.append(done)
        if !appending {
            appending = true
            Task { await self.commitPending() }
        }
    }

    /// Writes the collected records in batches of at most ~1 MiB until none wait.
    private func commitPending() async {
        while !pendingRecords.isEmpty {
            var take = 0, bytes = 0
            while take < pendingRecords.count && (take == 0 || bytes < 1 << 20) {
                bytes += pendingRecords[take].reduce(0) { $0 + $1.key.count + ($1.value?.count ?? 0) }
                take += 1
            }
            var groups = Array(pendingRecords.prefix(take))
            let waiters = Array(pendingWaiters.prefix(take))
            pendingRecords.removeFirst(take)
            pendingWaiters.removeFirst(take)
            // One offset record for the batch, holding every event's handled offset and those
            // applied before it (a group alone is taken as it is: no copy of its records).
            var records = groups.count == 1 ? groups.removeLast() : groups.flatMap { $0 }
            changelog.coalesceProgress(&records)
            do {
                var builder = RecordBatchBuilder()
                if let writer {
                    builder.producerID = writer.id
                    builder.producerEpoch = writer.epoch
                    builder.baseSequence = writer.sequence
                }
                let now = Self.now()
                for record in records { builder.append(key: record.key, value: record.value, timestamp: now) }
                let base = try await io.appendChangelog(partition: partition, batch: builder.build())
                writer?.sequence &+= Int32(records.count)
                changelog.apply(records, from: base)
                noteTimers()
                withPumpHeld {
                    for waiter in waiters { waiter(self, nil) }
                    resumeAppliedWaiters()
                }
                // Counted once per batch (a counter looked up per event cost a lock and a hash).
                if handledSinceCount > 0 {
                    handledCounter.increment(by: handledSinceCount)
                    handledSinceCount = 0
                }
            } catch {
                // The outcome of the failed batch is unknown, so no later batch may follow it (it
                // could be taken for its retry): every waiting append fails, and so do later ones.
                appendFailure = error
                let failed = waiters + pendingWaiters
                pendingRecords = []
                pendingWaiters = []
                for waiter in failed { waiter(self, error) }
                resumeAppliedWaiters()
            }
        }
        appending = false
    }

    /// Sends the outbox to its (routed) topics — same ids as before a crash; a shadow replay's
    /// topics are created as needed — then tombstones it. An emitted event to a topic that does
    /// not exist goes to the agent's dead letters instead, naming the topic (`ganglion dlq
    /// replay` sends it there once it is made), and what the refusal left unsent is sent again
    /// (what was stored before it is not: it would be stored twice).
    private func forwardOutbox() async throws {
        let pending = changelog.pendingOutbox
        guard !pending.isEmpty else { return }
        var sending = pending
        var undeliverable: [(entry: OutboxEntry, topic: String)] = []
        while !sending.isEmpty {
            do {
                try await io.send(sending.map { entry in
                    let topic = route(entry.topic)
                    return OutgoingEvent(topic: topic, key: entry.key, value: entry.event, createIfMissing: topic != entry.topic)
                })
                break
            } catch ShardIOError.unknownTopic(let missing, let stored) {
                // What was stored before the refusal is not sent again.
                let unsent = sending.dropFirst(min(stored, sending.count))
                let refused = unsent.filter { route($0.topic) == missing }
                // A refusal naming no topic sent here cannot be worked around: the shard fails.
                guard !refused.isEmpty else { throw ShardIOError.unknownTopic(missing, stored: stored) }
                undeliverable += refused.map { ($0, missing) }
                sending = unsent.filter { route($0.topic) != missing }
            }
        }
        if !undeliverable.isEmpty {
            try await io.send(try undeliverable.map { entry, topic in
                let letter = try undeliverableLetter(entry, topic: topic)
                return OutgoingEvent(topic: letter.topic, key: letter.key, value: letter.event, createIfMissing: false)
            })
        }
        try await append(changelog.forwardedRecords(ids: pending.map(\.id)))
    }

    /// The dead letter of an emitted event whose topic does not exist.
    private func undeliverableLetter(_ entry: OutboxEntry, topic: String) throws -> OutboxEntry {
        var letter = EventEnvelope()
        letter.id = entry.id + "-undeliverable"
        letter.specVersion = EventEnvelope.cloudEventsSpecVersion
        letter.source = "/agents/\(handler.name)"
        letter.type = "ganglion.dead_letter"
        letter.key = Data(entry.key ?? [])
        letter.causationID = entry.id
        letter.extensions = ["error": "the emitted event's topic \(topic) does not exist (create it, then replay this dead letter)",
                             "attempts": "1", "agent": handler.name, "topic": topic]
        letter.dataContentType = "application/octet-stream"
        letter.data = Data(entry.event)
        AgentMetrics.deadLettered(agent: handler.name)
        return try fitted(letter, key: entry.key, whereabouts: "handling its input \(letter.causationID) again (a replay) emits it again")
    }

    /// The outbox entry of `letter` for the agent's dead-letter topic, holding the event it is
    /// about — or, when with the event inside it would be over the log's record limit (an event
    /// the log only just took, with the letter's reason around it), without the event and with
    /// the extension `data_omitted` naming its size and `whereabouts`: a letter the changelog
    /// refused would stop the shard.
    private func fitted(_ letter: EventEnvelope, key: [UInt8]?, whereabouts: String) throws -> OutboxEntry {
        let topic = AgentAsk.deadLetterTopic(handler.name)
        var entry = OutboxEntry(id: letter.id, topic: topic, key: key, event: try letter.serializedBytes())
        guard Self.outboxBytes(entry) > Self.recordLimit else { return entry }
        var trimmed = letter
        trimmed.extensions[AgentAsk.deadLetterOmittedKey] = "\(letter.data.count) bytes, over the record limit with this letter around them: \(whereabouts)"
        trimmed.data = Data()
        entry = OutboxEntry(id: letter.id, topic: topic, key: key, event: try trimmed.serializedBytes())
        return entry
    }

    /// The bytes of an outbox entry's record: the event, and the id, topic and key beside it
    /// (as ``ShardChangelog`` lays it out), with a margin for the record's framing.
    static func outboxBytes(_ entry: OutboxEntry) -> Int {
        entry.event.count + 2 * entry.id.utf8.count + entry.topic.utf8.count + 2 * (entry.key?.count ?? 0) + 64
    }

    /// Forwards the outbox off the handlers' path (an event is finished once its batch is
    /// durable); one forwarder at a time, going round again while new entries arrive. Its
    /// failure fails the shard.
    private func forwardInBackground() {
        guard !forwarding else {
            forwardAgain = true
            return
        }
        forwarding = true
        forwarder = Task {
            await self.forwardRounds()
        }
    }

    private func forwardRounds() async {
        repeat {
            forwardAgain = false
            do {
                try await forwardOutbox()
            } catch {
                fail(error)
                break
            }
        } while forwardAgain
        forwarding = false
    }

    /// The shard cannot go on (its changelog cannot be written): it takes nothing more and tells
    /// its host once.
    private func fail(_ error: any Error) {
        // A shard whose drain ran out of time is leaving: what it could not write is the next
        // owner's, not a failure of the host.
        if failure == nil && !revoked {
            failure = error
            onFailure(error)
        }
        let drained = drainWaiters
        drainWaiters = []
        for waiter in drained { waiter.resume() }
        wakeRoomWaiters()
    }
}

/// The recorded outcome of an event given up to the dead letters: a marker, then its error (so
/// an ask retried with the same id is answered with the error again).
enum DeadLetterOutcome {
    static let marker = Array("\u{0}ganglion.dead_letter\u{0}".utf8)

    /// The error in a dead-lettered event's outcome; nil for a handled one.
    static func error(in outcome: [UInt8]) -> String? {
        guard outcome.starts(with: marker) else { return nil }
        return String(decoding: outcome.dropFirst(marker.count), as: UTF8.self)
    }
}
