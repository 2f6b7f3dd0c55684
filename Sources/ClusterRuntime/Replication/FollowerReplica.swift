import ClusterCore
import EventLog
import Foundation
import GanglionWire
import ZeroMQ

/// A partition this node follows: it copies the leader's log with REPLICA_FETCH, one fetch at a
/// time. Each fetch carries the log end this replica holds durably (the leader counts it as
/// this replica's progress) and the epoch of its last batch; a leader that finds the log
/// diverging answers where its epoch ended, and this replica truncates there before it goes on
/// (KIP-101/KIP-320). Batches keep the leader's offsets and epochs, and the next fetch is sent
/// only once they are durable under the node's policy.
final class FollowerReplica: @unchecked Sendable {
    /// Whom it follows.
    struct Leader: Equatable {
        var id: String
        var endpoint: String
        var epoch: Int32
    }

    let key: TopicPartition
    let log: PartitionLog
    private let nodeID: String
    private let requests: PeerRequests
    private let queue: DispatchQueue
    private let committed: @Sendable (TopicPartition) -> Void
    // Guarded by `lock`.
    private let lock = NSLock()
    private var leader: Leader?
    private var generation = 0
    private var stopped = false

    /// A follower of `key` whose answers are handled on `queue`; `committed` runs when its high
    /// watermark moves.
    init(key: TopicPartition, log: PartitionLog, nodeID: String, requests: PeerRequests, queue: DispatchQueue,
         committed: @escaping @Sendable (TopicPartition) -> Void) {
        self.key = key
        self.log = log
        self.nodeID = nodeID
        self.requests = requests
        self.queue = queue
        self.committed = committed
    }

    /// Follows `leader` from now on: a new chain of fetches starts at once, and answers to the
    /// earlier chain (an earlier leader or epoch, perhaps never answering) are dropped.
    func follow(_ leader: Leader) {
        let generation: Int? = lock.withLock {
            guard !stopped, self.leader != leader else { return nil }
            self.leader = leader
            self.generation += 1
            return self.generation
        }
        if let generation { queue.async { self.fetchNext(generation) } }
    }

    /// Stops following (a fetch in flight is dropped when it returns).
    func stop() { lock.withLock { stopped = true; generation += 1 } }

    /// Sends the next fetch of chain `generation` (nothing when a newer chain replaced it).
    private func fetchNext(_ generation: Int) {
        let target: Leader? = lock.withLock {
            guard !stopped, generation == self.generation else { return nil }
            return leader
        }
        guard let leader = target else { return }
        // The fetch offset tells the leader what this replica holds durably: with fsync per
        // batch, an append an earlier chain left unsynced is synced first.
        if case .everyBatch = log.configuration.durability, log.durableEndOffset < log.logEndOffset { try? log.flush() }
        var request = Ganglion_V1_ReplicaFetchRequest()
        request.topic = key.topic
        request.partition = UInt32(key.partition)
        request.replicaID = nodeID
        request.leaderEpoch = leader.epoch
        request.fetchOffset = log.logEndOffset
        request.lastFetchedEpoch = log.latestLeaderEpoch ?? -1
        request.maxBytes = 1 << 20
        request.maxWaitMs = 500
        requests.request(leader.endpoint, kind: .replicaFetch, body: request, timeout: .seconds(2)) { result in
            // Handled on the socket loop as it arrives (appends only write; the fsync is the
            // flusher's), so a round of replication costs no extra thread hop.
            self.handle(result, generation: generation)
        }
    }

    private func isCurrent(_ generation: Int) -> Bool { lock.withLock { generation == self.generation && !stopped } }

    /// Fetches again after `delay` (nothing to copy, or the leader could not answer).
    private func retry(after delay: Duration, generation: Int) {
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(delay / .milliseconds(1)))) { self.fetchNext(generation) }
    }

    private func handle(_ result: Result<[Frame], ProtocolFailure>, generation: Int) {
        guard isCurrent(generation) else { return }
        guard case .success(let frames) = result, let first = frames.first,
              let header = try? first.withUnsafeBytes({ try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }) else {
            return retry(after: .milliseconds(100), generation: generation)
        }
        guard header.error == .none, frames.count >= 2,
              let response = try? frames[1].withUnsafeBytes({ try Ganglion_V1_ReplicaFetchResponse(serializedBytes: Data($0)) }) else {
            // Not (or no longer) the leader at this epoch: the metadata brings the next one.
            return retry(after: .milliseconds(100), generation: generation)
        }
        do {
            if response.diverging || log.logEndOffset < response.logStartOffset {
                // Truncating or resetting syncs the disk: off the socket loop.
                return queue.async { self.repair(response, generation: generation) }
            }
            let bytes = frames.count >= 3 ? frames[2] : Frame([UInt8]())
            guard bytes.count > 0 else {
                advance(to: response.highWatermark)
                return fetchNext(generation)
            }
            let committed = self.committed, key = self.key, log = self.log
            try bytes.withUnsafeBytes { raw in
                try log.appendAsFollower(raw) { outcome in
                    guard case .success(let end) = outcome else { return self.retry(after: .milliseconds(200), generation: generation) }
                    if log.highWatermark < min(response.highWatermark, end) {
                        log.advanceHighWatermark(to: min(response.highWatermark, end))
                        committed(key)
                    }
                    self.fetchNext(generation)
                }
            }
        } catch {
            retry(after: .milliseconds(200), generation: generation)
        }
    }

    /// Truncates a divergent suffix (to where the leader's epoch ended, or this log's own end of
    /// that epoch if earlier), or starts the log afresh where the leader's starts; then fetches on.
    private func repair(_ response: Ganglion_V1_ReplicaFetchResponse, generation: Int) {
        guard isCurrent(generation) else { return }
        do {
            if response.diverging {
                let own = log.endOffset(forLeaderEpoch: response.divergingEpoch)
                let end = min(response.divergingEndOffset, own?.epoch == response.divergingEpoch ? own!.endOffset : response.divergingEndOffset)
                try log.truncate(to: max(end, log.logStartOffset))
            } else {
                // The leader no longer has what this replica misses (retention): start where it starts.
                try log.reset(startingAt: response.logStartOffset)
            }
            fetchNext(generation)
        } catch {
            retry(after: .milliseconds(200), generation: generation)
        }
    }

    private func advance(to leaderWatermark: Int64) {
        let watermark = min(leaderWatermark, log.logEndOffset)
        if watermark > log.highWatermark {
            log.advanceHighWatermark(to: watermark)
            committed(key)
        }
    }
}
