import ClusterCore
import Foundation

/// Inputs of one shard started together and run one after another by a single task off the
/// shard (``AgentShard``): a fast handler then costs no task and no hop onto the shard per event,
/// only one per batch. The shard takes back what has not begun once the batch has run longer
/// than its time slice (a slow or hung handler), and those inputs run in tasks of their own, so
/// one slow key never holds the others.
final class ShardBatch: @unchecked Sendable {
    /// One input of the batch: its item, its attempt's fence token, and what its handler is given.
    /// A class: an entry passes through several hands, and a copy of it is then one reference.
    final class Entry: Sendable {
        let item: ShardScheduler<AgentShard.Input>.Item
        let token: Int
        let attempt: ShardAttempt

        init(item: ShardScheduler<AgentShard.Input>.Item, token: Int, attempt: ShardAttempt) {
            self.item = item
            self.token = token
            self.attempt = attempt
        }
    }

    /// A handler's return (or its deadline) for one entry.
    struct Result: Sendable {
        let entry: Entry
        let outcome: Swift.Result<ShardHandlerResult, any Error>
    }

    /// The entry running now and its deadlines (nil once it returned or was abandoned).
    private struct Running {
        var entry: Entry
        var deadline: ContinuousClock.Instant
        var abandonAt: ContinuousClock.Instant
        var expired = false
        var abandoned = false
    }

    /// What is due at a moment (``due(at:)``).
    struct Due {
        /// The running entry passed its deadline: cancel it.
        var expire = false
        /// The running entry passed its deadline and the grace: it counts as failed now.
        var abandon: Entry?
        /// The batch has run its slice: the shard takes back what has not begun.
        var sliceOver = false
        /// The batch ended, or its running entry was abandoned after its slice: nothing more
        /// will be due.
        var ended = false
    }

    // Everything below is guarded by `lock`.
    private let lock = NSLock()
    /// Entries not begun, last first (taken from the end).
    private var waiting: [Entry]
    private var done: [Result] = []
    private var runner: Task<Void, Never>?
    private var running: Running?
    private var sliceEnd: ContinuousClock.Instant?
    private var ended = false

    /// A batch of `entries`, run in their order.
    init(_ entries: [Entry]) {
        waiting = entries.reversed()
        done.reserveCapacity(entries.count)
    }

    /// The task running the batch (cancelled when an attempt passes its deadline).
    func attach(_ task: Task<Void, Never>) { lock.withLock { runner = task } }

    /// Cancels the running attempt (and so the batch's task: what follows is taken back).
    func cancelRunner() { lock.withLock { runner }?.cancel() }

    /// The next entry to run; nil once none is left (or the shard took them back).
    func next() -> Entry? { lock.withLock { waiting.popLast() } }

    /// Starts the batch's clock: its slice ends at `sliceEnd`.
    func start(sliceEnd: ContinuousClock.Instant) { lock.withLock { self.sliceEnd = sliceEnd } }

    /// `entry` runs now: cancelled at `deadline`, abandoned at `abandonAt` unless it returns first.
    func begin(_ entry: Entry, deadline: ContinuousClock.Instant, abandonAt: ContinuousClock.Instant) {
        lock.withLock { running = Running(entry: entry, deadline: deadline, abandonAt: abandonAt) }
    }

    /// The running entry returned; true when its deadline had passed first.
    func returned() -> Bool {
        lock.withLock {
            defer { running = nil }
            return running?.expired ?? false
        }
    }

    /// The batch ran to its end (nothing is due from now on).
    func end() { lock.withLock { ended = true } }

    /// What is due at `now` (each thing once).
    func due(at now: ContinuousClock.Instant) -> Due {
        lock.withLock {
            var due = Due(ended: ended)
            guard !ended else { return due }
            if let end = sliceEnd, now >= end {
                due.sliceOver = true
                sliceEnd = nil
            }
            if let current = running {
                if !current.expired && now >= current.deadline {
                    due.expire = true
                    running?.expired = true
                }
                if !current.abandoned && now >= current.abandonAt {
                    // Abandoned: its return later finds it expired (and its result fenced).
                    due.abandon = current.entry
                    running?.abandoned = true
                    running?.expired = true
                }
            }
            // Abandoned with its slice over: nothing more can be due (its handler, cancelled,
            // ends the batch whenever it returns), so a hung handler does not keep the poll going.
            if running?.abandoned == true && sliceEnd == nil { due.ended = true }
            return due
        }
    }

    /// Records an entry's result.
    func finished(_ result: Result) { lock.withLock { done.append(result) } }

    /// Takes the results recorded so far and the entries not begun (in their order).
    func takeAll() -> (results: [Result], waiting: [Entry]) {
        lock.withLock {
            defer {
                done = []
                waiting = []
            }
            return (done, waiting.reversed())
        }
    }
}
