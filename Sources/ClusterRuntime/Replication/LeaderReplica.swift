import ClusterCore
import EventLog
import Foundation
import ZeroMQ

/// A partition this node leads, for one leader epoch: its followers' progress (a
/// ``ReplicaTracker``), the high watermark that follows from it, and the batches appended but
/// not yet below the high watermark — their `acks=all` answers and their stream messages wait
/// here, so consumers and producers only ever see committed records.
/// Thread-safe: appends complete on the log's flusher thread, follower fetches arrive on the
/// socket loop.
final class LeaderReplica: @unchecked Sendable {
    /// A batch waiting for the high watermark to pass its end.
    private struct Waiting {
        /// The offset after its last record.
        let end: Int64
        /// Runs once the batch is committed, with the ISR's size then (nil: this replica stopped
        /// leading first — the batch's outcome is unknown to its producer).
        let release: @Sendable (_ isrSize: Int?) -> Void
    }

    let key: TopicPartition
    let log: PartitionLog
    let leaderEpoch: Int32
    /// The fewest in-sync replicas (this one included) with which an `acks=all` batch is acknowledged.
    let minInSync: Int
    // Guarded by `lock`.
    private let lock = NSLock()
    private var tracker: ReplicaTracker
    private var partitionEpoch: Int32
    private var waiting: [Waiting] = []
    /// Committed batches whose releases have not run yet, in offset order, and whether a thread
    /// is running them: releases run outside the lock (they answer producers and wake fetches,
    /// which read this replica), one thread at a time, so streams still go out in offset order.
    private var released: [(Waiting, Int?)] = []
    private var draining = false
    private var stopped = false
    private var alterInFlight = false
    /// The log end the durability policy covers: what followers may copy.
    private var appendedEnd: Int64
    /// The followers that take this partition's replication stream (their fetches do not wait).
    private var streamFollowers: Set<String> = []

    /// Leadership of `key` at `state`'s epochs, from `log` as it is now (made durable first: a
    /// leader only ever serves records it holds durably).
    init(key: TopicPartition, log: PartitionLog, nodeID: String, state: PartitionState, minInSync: Int, lagBound: Duration) throws {
        self.key = key
        self.log = log
        leaderEpoch = state.leaderEpoch
        partitionEpoch = state.partitionEpoch
        self.minInSync = minInSync
        try log.flush()
        let end = log.logEndOffset
        appendedEnd = end
        tracker = ReplicaTracker(leader: nodeID, replicas: state.replicas, isr: state.isr, logEnd: end, highWatermark: log.highWatermark,
                                 lagBound: Int64(lagBound / .milliseconds(1)), now: Self.now())
        log.advanceHighWatermark(to: tracker.highWatermark)
    }

    /// Milliseconds of the monotonic clock.
    static func now() -> Int64 {
        let elapsed = ContinuousClock.now - Self.origin
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }
    private static let origin = ContinuousClock.now

    /// The in-sync replicas as recorded, and whether this replica still leads.
    var status: (isr: [String], partitionEpoch: Int32, stopped: Bool) { lock.withLock { (tracker.isr, partitionEpoch, stopped) } }

    /// The high watermark.
    var highWatermark: Int64 { lock.withLock { tracker.highWatermark } }

    /// Whether some replica is out of the ISR, and how many records each follower is behind
    /// this leader's durable log end (a follower that has not fetched this term counts as the
    /// whole log behind).
    var replication: (underReplicated: Bool, lags: [(follower: String, records: Int64)]) {
        lock.withLock {
            let followers = tracker.replicas.filter { $0 != tracker.leader }
            return (tracker.isr.count < tracker.replicas.count,
                    followers.map { ($0, max(0, appendedEnd - (tracker.logEnd(of: $0) ?? 0))) })
        }
    }

    /// How far followers may copy the log: what is durable under the node's policy.
    var servableEnd: Int64 { lock.withLock { appendedEnd } }

    /// Whether some follower takes the replication stream (so appended batches are published).
    var publishesStream: Bool { lock.withLock { !streamFollowers.isEmpty } }

    /// Records whether `follower` takes the replication stream (from its latest request).
    func follower(_ follower: String, takesStream: Bool) {
        lock.withLock {
            if takesStream { streamFollowers.insert(follower) } else { streamFollowers.remove(follower) }
        }
    }

    /// Refuses an `acks=all` batch before it is appended when too few replicas are in sync.
    func checkAcksAll() throws {
        let (isr, _, stopped) = status
        if stopped { throw ProtocolFailure(.notLeader, "node no longer leads \(key.topic)-\(key.partition) at epoch \(leaderEpoch); refresh metadata") }
        guard isr.count >= minInSync else {
            throw ProtocolFailure(.notEnoughReplicas,
                                  "\(key.topic)-\(key.partition) has \(isr.count) in-sync replica(s) (\(isr.joined(separator: ", "))), fewer than min-insync \(minInSync); this request appended nothing (a batch stored by an earlier attempt stays stored)")
        }
    }

    /// A batch of this epoch is durable up to `end`: the high watermark may move, and `release`
    /// runs once it passes `end` (at once when it already has).
    func appended(end: Int64, release: @escaping @Sendable (_ isrSize: Int?) -> Void) {
        defer { drain() }
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return released.append((Waiting(end: end, release: release), nil)) }
        // Kept in offset order (a retried batch may end below others waiting).
        let index = waiting.lastIndex { $0.end <= end }.map { $0 + 1 } ?? 0
        waiting.insert(Waiting(end: end, release: release), at: index)
        if end > appendedEnd {
            appendedEnd = end
            tracker.leaderAppended(logEnd: end)
        }
        releaseCommitted()
    }

    /// A follower fetched from `offset` (it holds the log below it durably); returns the high watermark.
    @discardableResult
    func followerFetched(_ follower: String, offset: Int64) -> Int64 {
        defer { drain() }
        return lock.withLock {
            tracker.followerFetched(follower, offset: offset, now: Self.now())
            releaseCommitted()
            return tracker.highWatermark
        }
    }

    /// The metadata recorded a new ISR at `partitionEpoch` (for this leader epoch), or the
    /// controller found the ISR asked for changes nothing (the same epoch: the request is answered).
    func recorded(isr: [String], partitionEpoch: Int32) {
        defer { drain() }
        lock.lock()
        defer { lock.unlock() }
        guard partitionEpoch > self.partitionEpoch || (partitionEpoch == self.partitionEpoch && isr == tracker.isr) else { return }
        self.partitionEpoch = partitionEpoch
        tracker.isrChanged(to: isr)
        releaseCommitted()
    }

    /// The ISR change to ask the controller for now, with the epochs it is asked at (nil: none,
    /// or one is already on its way).
    func isrProposal() -> (isr: [String], partitionEpoch: Int32)? {
        lock.withLock {
            guard !stopped, !alterInFlight, let isr = tracker.proposeISR(now: Self.now()) else { return nil }
            alterInFlight = true
            return (isr, partitionEpoch)
        }
    }

    /// The controller answered an ISR request (recorded, or refused).
    func isrProposalAnswered() { lock.withLock { alterInFlight = false } }

    /// Leadership ended (a new epoch, or this node lost its session): the batches still waiting
    /// are answered as of unknown outcome and nothing more is released.
    func stop() {
        lock.withLock {
            stopped = true
            released += waiting.map { ($0, nil) }
            waiting = []
        }
        drain()
    }

    /// Moves the batches now below the high watermark to the releases to run (under the lock).
    private func releaseCommitted() {
        let watermark = tracker.highWatermark
        log.advanceHighWatermark(to: watermark)
        guard let first = waiting.first, first.end <= watermark else { return }
        let isrSize = tracker.isr.count
        let count = waiting.prefix { $0.end <= watermark }.count
        released += waiting[..<count].map { ($0, isrSize) }
        waiting.removeFirst(count)
    }

    /// Runs the pending releases, outside the lock; a thread that finds another running them
    /// leaves its own to that one.
    private func drain() {
        while true {
            let next: [(Waiting, Int?)] = lock.withLock {
                guard !draining, !released.isEmpty else { return [] }
                draining = true
                defer { released = [] }
                return released
            }
            guard !next.isEmpty else { return }
            for (batch, isrSize) in next { batch.release(isrSize) }
            lock.withLock { draining = false }
        }
    }
}
