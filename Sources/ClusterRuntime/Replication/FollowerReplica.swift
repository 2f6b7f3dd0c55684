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
///
/// With the ``ReplicationTransport/pub`` transport it takes the leader's replication stream
/// instead (DESIGN.md §1): it fetches (never waiting at the leader) until its log reaches the
/// leader's end, then appends the stream's batches that continue its log at the followed epoch
/// and reports each durable end — never more than the log holds when the report leaves — with a
/// REPLICA_FETCH of no bytes. A gap, a divergence, a new leader or half a second without a
/// message sends it back to fetching — the fetch path stays the one that truncates (on `queue`).
/// Stream appends and the switches between the two happen on the socket loop's thread only, so
/// a stream batch and a fetch answer never append concurrently; a stream batch appends only
/// where the log still ends under its lock, so a truncation meanwhile refuses it.
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
    /// The node's replication streams (nil: this follower fetches alone).
    private let streams: ReplicaStreams?
    // Guarded by `lock`.
    private let lock = NSLock()
    private var leader: Leader?
    private var generation = 0
    private var stopped = false
    /// With the stream: whether its batches are appended now (false: fetching, and they are
    /// kept in `buffered`, up to ``bufferLimit``, to be applied once the fetches reach them).
    private var streaming = false
    private var buffered: [(base: Int64, next: Int64, message: [Frame])] = []
    private static let bufferLimit = 1_024
    /// When the stream or a fetch last brought something (silence beyond ``silence`` fetches).
    private var lastHeard = ContinuousClock.now
    private static let silence: Duration = .milliseconds(500)
    /// The durable log end the appends of this generation reached and the end last reported
    /// (both set back to the log's end by a new leader, a truncation or a reset), and the
    /// generation whose report is on its way: an earlier generation's report neither blocks nor
    /// clears a newer one's. A report never claims more than the log holds when it is sent.
    private var durableEnd: Int64 = 0
    private var reportedEnd: Int64 = 0
    private var reportingGeneration: Int?
    /// Whether the fetch under way was sent because the stream fell silent: it counts as a
    /// fallback only when it brings batches the stream missed (an idle leader is no fault).
    private var checkingSilence = false

    /// A follower of `key` whose answers are handled on `queue`; `committed` runs when its high
    /// watermark moves.
    /// `streams` set: it takes the leader's replication stream (``ReplicationTransport/pub``).
    init(key: TopicPartition, log: PartitionLog, nodeID: String, requests: PeerRequests, queue: DispatchQueue,
         streams: ReplicaStreams? = nil, committed: @escaping @Sendable (TopicPartition) -> Void) {
        self.key = key
        self.log = log
        self.nodeID = nodeID
        self.requests = requests
        self.queue = queue
        self.streams = streams
        self.committed = committed
    }

    /// Follows `leader` (whose PUB is `pubEndpoint`) from now on: a new chain of fetches starts
    /// at once, and answers to the earlier chain (an earlier leader or epoch, perhaps never
    /// answering) and its stream's batches are dropped.
    func follow(_ leader: Leader, pubEndpoint: String = "") {
        let generation: Int? = lock.withLock {
            guard !stopped, self.leader != leader else { return nil }
            self.leader = leader
            self.generation += 1
            streaming = false
            buffered = []
            checkingSilence = false
            resetProgress()
            return self.generation
        }
        guard let generation else { return }
        if let streams, !pubEndpoint.isEmpty {
            streams.follow(key, at: pubEndpoint) { [weak self] message in self?.received(message) }
            tick(generation)
        }
        queue.async { self.fetchNext(generation) }
    }

    /// Stops following (a fetch in flight is dropped when it returns).
    func stop() {
        lock.withLock { stopped = true; generation += 1; buffered = [] }
        streams?.unfollow(key)
    }

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
        // Following the stream, a fetch never waits at the leader (and its 0 tells the leader
        // to publish the stream): an empty answer means the log is caught up.
        request.maxWaitMs = streams == nil ? 500 : 0
        requests.request(leader.endpoint, kind: .replicaFetch, body: request, timeout: .seconds(2)) { result in
            // Handled on the socket loop as it arrives (appends only write; the fsync is the
            // flusher's), so a round of replication costs no extra thread hop.
            self.handle(result, generation: generation)
        }
    }

    private func isCurrent(_ generation: Int) -> Bool { lock.withLock { generation == self.generation && !stopped } }

    /// Sets the progress to report back to what the log holds (a new leader, a truncation, a
    /// reset). Call under `lock`.
    private func resetProgress() {
        durableEnd = log.logEndOffset
        reportedEnd = durableEnd
    }

    /// Fetches again after `delay` (nothing to copy, or the leader could not answer).
    private func retry(after delay: Duration, generation: Int) {
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(delay / .milliseconds(1)))) { self.fetchNext(generation) }
    }

    private func handle(_ result: Result<[Frame], ProtocolFailure>, generation: Int) {
        guard isCurrent(generation) else { return }
        guard case .success(let frames) = result, let first = frames.first,
              let header = try? first.withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }) else {
            return retry(after: .milliseconds(100), generation: generation)
        }
        guard header.error == .none, frames.count >= 2,
              let response = try? frames[1].withUnsafeBytes({ try Ganglion_V1_ReplicaFetchResponse(inPlace: $0) }) else {
            // Not (or no longer) the leader at this epoch: the metadata brings the next one.
            return retry(after: .milliseconds(100), generation: generation)
        }
        do {
            if response.diverging || log.logEndOffset < response.logStartOffset {
                // Truncating or resetting syncs the disk: off the socket loop. No stream batch is
                // appended meanwhile (this chain is the fetching one; it stays so).
                lock.withLock {
                    streaming = false
                    checkingSilence = false
                }
                return queue.async { self.repair(response, generation: generation) }
            }
            let bytes = frames.count >= 3 ? frames[2] : Frame([UInt8]())
            let silenceMissedBatches: Bool = lock.withLock {
                defer { checkingSilence = false }
                return checkingSilence && bytes.count > 0
            }
            if silenceMissedBatches { NodeMetrics.replicationStreamFallback(reason: "silence") }
            guard bytes.count > 0 else {
                advance(to: response.highWatermark)
                return streams == nil ? fetchNext(generation) : resumeStream(generation)
            }
            let committed = self.committed, key = self.key, log = self.log
            try bytes.withUnsafeBytes { raw in
                try log.appendAsFollower(raw) { outcome in
                    guard case .success(let end) = outcome else { return self.retry(after: .milliseconds(200), generation: generation) }
                    if log.highWatermark < min(response.highWatermark, end) {
                        log.advanceHighWatermark(to: min(response.highWatermark, end))
                        committed(key)
                    }
                    guard let streams = self.streams else { return self.fetchNext(generation) }
                    // The leader holds more (a backlog of a quiet partition has no stream to
                    // wait for): fetch on; caught up, the stream takes over and hears the end.
                    guard end >= response.logEndOffset else { return self.fetchNext(generation) }
                    streams.execute { self.resumeStream(generation) }
                    self.durable(end, highWatermark: response.highWatermark, generation: generation)
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
            lock.withLock { if generation == self.generation { resetProgress() } }
            fetchNext(generation)
        } catch {
            retry(after: .milliseconds(200), generation: generation)
        }
    }

    // MARK: The replication stream (on the socket loop's thread)

    /// One replication message of the followed partition: kept while fetching, appended when it
    /// continues the log at the followed epoch, dropped when the log holds it already; a batch
    /// beyond the log's end (a message missed) sends the follower back to fetching.
    private func received(_ message: [Frame]) {
        guard message.count >= 3,
              let header = try? message[1].withUnsafeBytes({ try Ganglion_V1_StreamBatchHeader(inPlace: $0) }),
              header.nextOffset > header.baseOffset,
              let epoch = message[2].withUnsafeBytes({ StoredBatch.leaderEpoch($0) }) else { return }
        let end = log.logEndOffset
        enum Step { case keep, fetch(Int), append(Int) }
        let step: Step = lock.withLock {
            // Another epoch's batches: a stale leader's, or a new one's the metadata has not named yet.
            guard !stopped, let leader, epoch == leader.epoch else { return .keep }
            lastHeard = .now
            if !streaming {
                if buffered.count < Self.bufferLimit { buffered.append((header.baseOffset, header.nextOffset, message)) }
                return .keep
            }
            // The log holds it already.
            guard header.baseOffset >= end else { return .keep }
            // It continues the log: appended for the generation checked here.
            guard header.baseOffset > end else { return .append(self.generation) }
            // A gap: fetch from the log's end, keeping this batch for when the fetches reach it.
            streaming = false
            buffered = [(header.baseOffset, header.nextOffset, message)]
            NodeMetrics.replicationStreamFallback(reason: "gap")
            return .fetch(self.generation)
        }
        switch step {
        case .keep: return
        case .fetch(let generation): queue.async { self.fetchNext(generation) }
        case .append(let generation): append(message[2], at: end, highWatermark: header.highWatermark, generation: generation)
        }
    }

    /// The generation whose stream batches are appended now (nil: fetching, or stopped).
    private var streamingGeneration: Int? { lock.withLock { streaming && !stopped ? generation : nil } }

    /// Appends one stream batch of `generation` that continues the log ending at `base` (checked
    /// again under the log's lock: a truncation since refuses it); its durable end is reported
    /// to the leader.
    private func append(_ batch: Frame, at base: Int64, highWatermark: Int64, generation: Int) {
        do {
            try batch.withUnsafeBytes { raw in
                try log.appendAsFollower(raw, expectingBase: base) { outcome in
                    guard case .success(let end) = outcome else { return }
                    self.durable(end, highWatermark: highWatermark, generation: generation)
                }
            }
        } catch {
            // Not appended (a malformed batch, or the log moved): fetching repairs it.
            let current: Int? = lock.withLock {
                guard generation == self.generation, streaming else { return nil }
                streaming = false
                buffered = []
                return generation
            }
            if let current { queue.async { self.fetchNext(current) } }
        }
    }

    /// The fetches reached the log's end (or the stream's first batch kept): the batches kept
    /// meanwhile that continue the log are appended and the stream takes over — or, when they
    /// leave a gap, the next fetch goes out.
    private func resumeStream(_ generation: Int) {
        let kept: [(base: Int64, next: Int64, message: [Frame])]? = lock.withLock {
            guard !stopped, generation == self.generation else { return nil }
            lastHeard = .now
            defer { buffered = [] }
            return buffered
        }
        guard let kept else { return }
        lock.withLock { streaming = generation == self.generation && !stopped }
        for (index, batch) in kept.enumerated() {
            // (An append that failed went back to fetching.)
            guard streamingGeneration == generation else { return }
            let end = log.logEndOffset
            guard batch.next > end else { continue }
            guard batch.base == end else {
                // Missed before these: fetch them, keeping the rest.
                lock.withLock {
                    guard generation == self.generation else { return }
                    streaming = false
                    buffered = Array(kept[index...])
                }
                return queue.async { self.fetchNext(generation) }
            }
            let header = try? batch.message[1].withUnsafeBytes { try Ganglion_V1_StreamBatchHeader(inPlace: $0) }
            append(batch.message[2], at: end, highWatermark: header?.highWatermark ?? 0, generation: generation)
        }
    }

    /// Every 100 ms while following `generation`: a stream silent for ``silence`` sends the
    /// follower back to fetching (a last batch missed leaves no gap to see; an idle leader is
    /// asked once per silence, as a waiting fetch would be).
    private func tick(_ generation: Int) {
        queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [weak self] in
            guard let self, let streams = self.streams, self.isCurrent(generation) else { return }
            streams.execute {
                let silent: Bool = self.lock.withLock {
                    guard generation == self.generation, self.streaming, ContinuousClock.now - self.lastHeard >= Self.silence else { return false }
                    self.streaming = false
                    self.lastHeard = .now
                    self.checkingSilence = true
                    return true
                }
                if silent { self.queue.async { self.fetchNext(generation) } }
                self.tick(generation)
            }
        }
    }

    /// An append of `generation` is durable up to `end`: the leader hears it (one report at a
    /// time; the next carries everything durable by then), and this copy's high watermark follows.
    private func durable(_ end: Int64, highWatermark: Int64, generation: Int) {
        if min(highWatermark, end) > log.highWatermark {
            log.advanceHighWatermark(to: min(highWatermark, end))
            committed(key)
        }
        let current: Bool = lock.withLock {
            guard generation == self.generation, !stopped else { return false }
            durableEnd = max(durableEnd, end)
            return true
        }
        if current { report(generation) }
    }

    /// Sends the leader of `generation` what this log holds durably beyond what it last heard,
    /// unless a report of this generation is on its way (its answer sends the next one). The
    /// offset is bounded by what the log holds now, and the epoch of its last batch is read with
    /// it (one log, even across a truncation), so the leader's divergence check sees the truth.
    private func report(_ generation: Int) {
        let report: (Leader, Int64, Int32)? = lock.withLock {
            guard generation == self.generation, !stopped, let leader, reportingGeneration != generation else { return nil }
            let progress = log.followerProgress(upTo: durableEnd)
            guard progress.endOffset > reportedEnd else { return nil }
            reportingGeneration = generation
            reportedEnd = progress.endOffset
            return (leader, progress.endOffset, progress.lastEpoch ?? -1)
        }
        guard let (leader, offset, epoch) = report else { return }
        var request = Ganglion_V1_ReplicaFetchRequest()
        request.topic = key.topic
        request.partition = UInt32(key.partition)
        request.replicaID = nodeID
        request.leaderEpoch = leader.epoch
        request.fetchOffset = offset
        request.lastFetchedEpoch = epoch
        request.maxBytes = 0  // a report: the leader reads nothing
        request.maxWaitMs = 0
        requests.request(leader.endpoint, kind: .replicaFetch, body: request, timeout: .seconds(2)) { result in
            // An earlier generation's answer (an earlier leader or epoch) changes nothing.
            let current: Bool = self.lock.withLock {
                guard self.reportingGeneration == generation else { return false }
                self.reportingGeneration = nil
                return generation == self.generation && !self.stopped
            }
            guard current else { return }
            if case .success(let frames) = result, frames.count >= 2,
               let header = try? frames[0].withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }), header.error == .none,
               let response = try? frames[1].withUnsafeBytes({ try Ganglion_V1_ReplicaFetchResponse(inPlace: $0) }) {
                if response.diverging, let streams = self.streams {
                    // Truncation is the fetch path's: stop appending the stream, then repair —
                    // unless a fetch chain runs already (it meets the divergence itself).
                    return streams.execute {
                        let repair: Bool = self.lock.withLock {
                            guard generation == self.generation, !self.stopped, self.streaming else { return false }
                            self.streaming = false
                            self.checkingSilence = false
                            self.buffered = []
                            return true
                        }
                        if repair { self.queue.async { self.repair(response, generation: generation) } }
                    }
                }
                // The leader checked this log up to `offset`; no further.
                self.advance(to: min(response.highWatermark, offset))
            }
            // More became durable while this report was on its way.
            self.report(generation)
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
