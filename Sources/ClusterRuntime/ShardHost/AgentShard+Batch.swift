import ClusterCore
import Foundation

/// Running started inputs as one batch (``ShardBatch``): one task off the shard runs their
/// handlers in turn and hands the results back in one turn of the shard.
extension AgentShard {
    /// How long a batch runs before what it has not begun is taken back and run in tasks of
    /// their own (a slow handler must not hold the other keys).
    static let batchSlice: Duration = .milliseconds(2)

    /// Whether `item` can run in a batch: an event (not a timer) of a key in memory, not handled
    /// before, with no budget of attempts to take a slot from; anything else runs on its own.
    func batchable(_ item: ShardScheduler<Input>.Item) -> ShardAttempt? {
        guard slots == nil, !revoked, item.payload.timer == nil, let event = item.payload.event else { return nil }
        let first = changelog.firstAttempt(at: event.id, key: item.key)
        guard first.runnable else { return nil }
        return ShardAttempt(event: event, key: item.key, partition: partition, offset: item.offset, attempt: 1,
                            state: first.state, timer: nil)
    }

    /// Starts `entries` (fenced by their tokens already) as one batch.
    func startBatch(_ entries: [ShardBatch.Entry]) {
        let batch = ShardBatch(entries)
        let task = Task.detached { await self.runBatch(batch) }
        batch.attach(task)
        for entry in entries { runners[entry.item.offset] = task }
    }

    /// Runs the batch's entries one after another off the shard, each under its deadline (it
    /// cancels the batch's task) and abandoned past the deadline plus the grace; stops taking
    /// entries once cancelled or past the time slice, then hands every result, and what it did
    /// not begin, back to the shard.
    nonisolated func runBatch(_ batch: ShardBatch) async {
        let began = ContinuousClock.now
        let milliseconds = handler.retryPolicy.attemptDeadlineMilliseconds
        // One poll watches the batch's slice and its running entry's deadlines (not a watch per
        // entry): a handler past its slice has the shard take the rest back; one past its deadline
        // is cancelled, and past the grace counts as failed.
        batch.start(sliceEnd: began.advanced(by: Self.batchSlice))
        deadlines.poll { [weak self] now in
            let due = batch.due(at: now)
            if due.expire { batch.cancelRunner() }
            if let entry = due.abandon {
                Task {
                    await self?.attemptEnded(entry.token, entry.item, 1, event: entry.attempt.event, timer: nil,
                                             .failure(AgentError.deadlineExceeded(milliseconds: milliseconds)))
                }
            }
            if due.sliceOver { Task { await self?.batchEnded(batch) } }
            return !due.ended && self != nil
        }
        while let entry = batch.next() {
            let deadline = ContinuousClock.now.advanced(by: .milliseconds(milliseconds))
            batch.begin(entry, deadline: deadline, abandonAt: deadline.advanced(by: deadlineGrace))
            var outcome: Result<ShardHandlerResult, any Error>
            do { outcome = .success(try await handler.handle(entry.attempt)) } catch { outcome = .failure(error) }
            let expired = batch.returned()
            // Past the deadline only if the attempt did not finish first.
            if case .failure = outcome, expired { outcome = .failure(AgentError.deadlineExceeded(milliseconds: milliseconds)) }
            batch.finished(ShardBatch.Result(entry: entry, outcome: outcome))
            if Task.isCancelled || ContinuousClock.now - began > Self.batchSlice { break }
        }
        batch.end()
        await batchEnded(batch)
    }

    /// Takes the batch's results (each committed, retried or dead-lettered as an attempt's) and
    /// starts what it did not begin as inputs of their own — unless the shard gave its partition
    /// up and abandoned them.
    func batchEnded(_ batch: ShardBatch) {
        let (results, waiting) = batch.takeAll()
        // The handled ones are committed together; failures are retried or dead-lettered each.
        var handled: [(handled: HandledEvent, item: ShardScheduler<Input>.Item)] = []
        for result in results {
            let entry = result.entry
            guard case .success(let value) = result.outcome, !revoked, attempts.removeValue(forKey: entry.token) != nil else {
                attemptEnded(entry.token, entry.item, 1, event: entry.attempt.event, timer: nil, result.outcome, returned: true)
                continue
            }
            do {
                handled.append((try handledEvent(value, entry.item, event: entry.attempt.event, timer: nil), entry.item))
            } catch let error as AgentError where error.isEffectTooLarge {
                do { try attemptFailed(entry.item, 1, event: entry.attempt.event, error) } catch { settled(entry.item, error: error) }
            } catch {
                settled(entry.item, error: error)
            }
        }
        commit(handled)
        for entry in waiting {
            attempts[entry.token] = nil
            guard !revoked else { continue }
            let item = entry.item
            runners[item.offset] = Task { await self.run(item, attempt: 1) }
        }
    }
}
