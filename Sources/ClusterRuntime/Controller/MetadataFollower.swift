import ClusterCore
import EventLog
import Foundation
import GanglionWire
import Logging
import ZeroMQ

/// How a node that is not a controller voter (an observer) holds the metadata: it follows the
/// committed metadata log of the voters with long-poll CONTROLLER_FETCH requests, stores each
/// batch in its own copy of the log (same offsets, same leader epochs), and applies it. A restart
/// replays its copy and fetches what it missed; when the voters have compacted what it needs, it
/// loads their snapshot instead.
///
/// Fetch alone (no PUB stream): the long poll answers as soon as the leader commits, so a
/// stream would save no latency here, and metadata changes are rare.
final class MetadataFollower: @unchecked Sendable {
    private let voters: [VoterAddress]
    private let storage: RaftLogStorage
    private let store: ReplicatedMetadataStore
    private let logger: Logger
    private let queue = DispatchQueue(label: "ganglion.metadata.follower")
    // Belong to `queue`.
    private var requests: PeerRequests?
    private var target = 0
    private var running = false
    // Guarded by `lock`.
    private let lock = NSLock()
    private var view: (leader: String?, term: Int64) = (nil, 0)
    /// Called after records are applied (wakes this node's own metadata fetchers).
    var onApplied: @Sendable () -> Void = {}

    /// An observer's follower over `storage`, applying into `store`.
    init(voters: [VoterAddress], storage: RaftLogStorage, store: ReplicatedMetadataStore, logger: Logger) throws {
        self.voters = voters
        self.storage = storage
        self.store = store
        self.logger = logger
        let (persisted, snapshot) = try storage.load()
        if let snapshot { store.restore(snapshot) }
        // An observer stores only committed records: all of its copy applies.
        for entry in persisted.entries { _ = store.apply(try MetadataEntry(entry), index: entry.index) }
        storage.log.setHighWatermark(storage.log.logEndOffset)
    }

    /// The controller leader and term, as the last answer from a voter said.
    var controller: (leader: String?, term: Int64) { lock.withLock { view } }

    /// Starts following, with requests sent over `requests`.
    func start(_ requests: PeerRequests) {
        queue.async { [self] in
            self.requests = requests
            running = true
            fetch()
        }
    }

    /// Stops following.
    func stop() { queue.sync { running = false } }

    private func fetch() {
        guard running, let requests else { return }
        // Prefer the leader (it commits first); otherwise walk the voters.
        let leader = controller.leader.flatMap { id in voters.first { $0.id == id } }
        let voter = leader ?? voters[target % voters.count]
        var request = Ganglion_V1_ControllerFetchRequest()
        request.offset = storage.log.logEndOffset
        request.maxWaitMs = 1_000
        request.maxBytes = 4 << 20
        requests.request(voter.api, kind: .controllerFetch, body: request, timeout: .seconds(3)) { [self] result in
            queue.async { [self] in
                do {
                    let frames = try result.get()
                    try handle(frames, from: voter.id)
                    fetch()
                } catch {
                    lock.withLock { view.leader = nil }
                    target += 1
                    logger.debug("metadata fetch failed; trying the next voter", metadata: ["ganglion.voter": "\(voter.id)", "ganglion.error": "\(error)"])
                    queue.asyncAfter(deadline: .now() + .milliseconds(200)) { [self] in fetch() }
                }
            }
        }
    }

    private func handle(_ frames: [Frame], from voter: String) throws {
        let header = try frames[0].withUnsafeBytes { try Ganglion_V1_ResponseHeader(inPlace: $0) }
        guard header.error == .none, frames.count >= 3 else {
            throw ProtocolFailure(header.error, "voter \(voter) refused the metadata fetch: \(header.errorMessage)")
        }
        let response = try frames[1].withUnsafeBytes { try Ganglion_V1_ControllerFetchResponse(inPlace: $0) }
        lock.withLock { view = (response.leader.isEmpty ? nil : response.leader, response.term) }
        if !response.snapshot.isEmpty {
            let snapshot = try JSONDecoder().decode(MetadataSnapshot.self, from: response.snapshot)
            // Never back in time: a snapshot below what this node already holds is ignored.
            guard snapshot.offset > storage.log.logEndOffset else { return }
            var ready = RaftReady()
            ready.snapshot = RaftSnapshot(index: snapshot.offset, term: snapshot.term ?? 0, voters: voters.map(\.id), data: Array(response.snapshot))
            try storage.persist(ready)
            store.restore(snapshot)
            storage.log.setHighWatermark(storage.log.logEndOffset)
            logger.info("loaded the controller's metadata snapshot", metadata: ["ganglion.offset": "\(snapshot.offset)"])
            return
        }
        let bytes = frames[2].bytes
        guard !bytes.isEmpty else { return }
        try bytes.withUnsafeBytes { raw in
            var position = 0
            while raw.count - position >= RecordBatchLayout.headerSize {
                let slice = UnsafeRawBufferPointer(rebasing: raw[position...])
                let batch = try RecordBatchHeader(parsing: slice)
                guard batch.size <= slice.count else { break }
                defer { position += batch.size }
                guard batch.baseOffset >= storage.log.logEndOffset else { continue }
                guard batch.baseOffset == storage.log.logEndOffset else {
                    throw ProtocolFailure(.internal, "metadata batch at \(batch.baseOffset) does not follow this node's log end \(storage.log.logEndOffset)")
                }
                let one = UnsafeRawBufferPointer(rebasing: slice[..<batch.size])
                try storage.log.append(one, leaderEpoch: batch.leaderEpoch)
                for record in try RecordDecoder.records(in: one) {
                    _ = store.apply(try MetadataEntry(key: record.key, value: record.value), index: record.offset + 1)
                }
            }
        }
        try storage.log.flush()
        storage.log.setHighWatermark(storage.log.logEndOffset)
        onApplied()
    }
}
