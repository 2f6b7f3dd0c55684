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

    // `waiting`, `done` and `runner` are guarded by `lock`.
    private let lock = NSLock()
    /// Entries not begun, last first (taken from the end).
    private var waiting: [Entry]
    private var done: [Result] = []
    private var runner: Task<Void, Never>?

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
