import ClusterCore

import EventLog
import Foundation
import GanglionWire
import ZeroMQ

/// One record delivered from a partition, in offset order.
public struct DeliveredRecord: Sendable, Hashable {
    /// The topic.
    public var topic: String
    /// The partition.
    public var partition: UInt32
    /// The record.
    public var record: Record
}

/// Follows one partition from an offset, in order, without gaps or duplicates: the live PUB stream
/// is the fast path, and any gap it leaves (a slow join, a HWM drop, a reconnect) is fetched
/// before delivery continues — the ZeroMQ Guide's Clone pattern.
public final class PartitionStream: Sendable {
    enum Event: Sendable {
        case batch([Frame])
        case tick
    }

    /// The hub (the node's SUB connection shared by every partition followed from it) and route
    /// the stream follows now: the partition leader's, moved when the leader moves.
    private let following: Following
    private let topicFrame: [UInt8]
    private let pollInterval: Duration
    /// The client's socket loop (every hub's).
    private let loop: SocketLoop
    /// Batches and ticks from the hub, waiting for the reader.
    let delivery: StreamDelivery
    let client: GanglionClient
    /// The partition followed.
    public let topic: String
    /// The partition number.
    public let partition: UInt32
    let start: Int64
    /// What to do when the position is outside the log.
    let reset: OffsetResetPolicy
    let repairs = RepairCounter()

    /// How many gaps in the live stream were repaired by fetch so far.
    public var gapsRepaired: Int { repairs.value }

    /// Subscribes to the partition's stream on `pubEndpoint` and will deliver from `offset`.
    /// - Parameters:
    ///   - bufferedBatches: batches held between the socket and the reader; when full the newest
    ///     are dropped and repaired by fetch (never an unbounded buffer).
    ///   - pollInterval: how often to check for a gap at the end (the last batch dropped).
    ///   - reset: where to go when the position is outside the log (retention removed it); with
    ///     `.none` the reader gets `OFFSET_OUT_OF_RANGE` naming the position and the log's bounds.
    public init(client: GanglionClient, pubEndpoint: String, topic: String, partition: UInt32, from offset: Int64,
                bufferedBatches: Int = 4096, pollInterval: Duration = .milliseconds(250), reset: OffsetResetPolicy = .none) throws {
        self.client = client
        self.reset = reset
        self.topic = topic
        self.partition = partition
        self.start = offset
        delivery = StreamDelivery(limit: bufferedBatches)
        topicFrame = StreamTopic.frame(for: TopicPartition(topic, Int32(partition)))
        self.pollInterval = pollInterval
        let hub = try client.streamHub(pubEndpoint: pubEndpoint)
        loop = hub.loop
        following = Following(hub: hub, route: try hub.add(topic: topicFrame, delivery: delivery, tickEvery: pollInterval), pub: pubEndpoint)
    }

    deinit { close() }

    /// The stream's socket thread (its client's) as a task executor. A reader task that prefers it
    /// (`Task(executorPreference: stream.socketExecutor)`) is resumed by arriving batches in the
    /// same loop iteration instead of waking another thread: the lowest-latency way to read.
    /// Its code delays the stream's socket while it runs, so keep it short and non-blocking.
    public var socketExecutor: any TaskExecutor { loop }

    /// Stops following; a reader waiting for the next record gets nil.
    public func close() {
        if let (hub, route) = following.close() { hub.remove(topic: topicFrame, id: route) }
        delivery.finish()
    }

    /// Follows the live stream of the partition's leader as the client knows it now: after a
    /// leader moved, its records come by the new leader's PUB again, not only by fetch each tick.
    func followLeader() async {
        guard let pub = try? await client.leader(of: topic, partition: partition).pub, !pub.isEmpty,
              following.current != pub, let hub = try? client.streamHub(pubEndpoint: pub),
              let route = try? hub.add(topic: topicFrame, delivery: delivery, tickEvery: pollInterval) else { return }
        if let (old, oldRoute) = following.move(to: hub, route: route, pub: pub) {
            old.remove(topic: topicFrame, id: oldRoute)
        } else {
            hub.remove(topic: topicFrame, id: route)  // closed meanwhile
        }
    }

    /// Which hub and route the stream follows (moved by ``followLeader()``, ended by ``close()``).
    final class Following: @unchecked Sendable {
        // Guarded by `lock`.
        private let lock = NSLock()
        private var hub: StreamHub?
        private var route: UInt64
        private var pub: String

        init(hub: StreamHub, route: UInt64, pub: String) {
            self.hub = hub
            self.route = route
            self.pub = pub
        }

        /// The PUB endpoint followed (nil once closed).
        var current: String? { lock.withLock { hub == nil ? nil : pub } }

        /// Follows `hub`'s `route` instead; returns the previous ones to remove (nil: closed).
        func move(to hub: StreamHub, route: UInt64, pub: String) -> (StreamHub, UInt64)? {
            lock.withLock {
                guard let previous = self.hub else { return nil }
                defer { (self.hub, self.route, self.pub) = (hub, route, pub) }
                return (previous, self.route)
            }
        }

        /// Ends following; returns what to remove (nil: already closed).
        func close() -> (StreamHub, UInt64)? {
            lock.withLock {
                guard let hub else { return nil }
                self.hub = nil
                return (hub, route)
            }
        }
    }

    /// The records from the start offset on, pulled as the reader asks for them: a slow reader
    /// slows the pulls, the bounded buffer between socket and reader drops, and the drops come
    /// back by fetch — memory stays bounded and nothing is lost.
    public func records() -> Records {
        Records(stream: self)
    }

    /// The records of a partition stream, in offset order.
    public struct Records: AsyncSequence, Sendable {
        /// Each record with its topic and partition.
        public typealias Element = DeliveredRecord
        let stream: PartitionStream

        /// An iterator that fetches or reads the live stream as needed.
        public func makeAsyncIterator() -> Iterator {
            Iterator(stream: stream, expected: stream.start)
        }

        /// Pulls records one at a time.
        public struct Iterator: AsyncIteratorProtocol {
            let stream: PartitionStream
            var expected: Int64
            var ready: [Record] = []
            var position = 0
            var caughtUp = false

            /// The next record in offset order; nil when the stream was closed.
            public mutating func next() async throws -> DeliveredRecord? {
                guard try await fill() else { return nil }
                defer { position += 1 }
                return DeliveredRecord(topic: stream.topic, partition: stream.partition, record: ready[position])
            }

            /// Every record ready now (at least one), in offset order; nil when the stream was
            /// closed. Readers that handle records in bulk avoid a suspension per record.
            public mutating func nextBatch() async throws -> [DeliveredRecord]? {
                guard try await fill() else { return nil }
                defer { position = ready.count }
                return ready[position...].map { DeliveredRecord(topic: stream.topic, partition: stream.partition, record: $0) }
            }

            /// Waits until a record is ready; false when the stream was closed.
            private mutating func fill() async throws -> Bool {
                while position >= ready.count {
                    try Task.checkCancellation()
                    if !caughtUp {
                        // (A fetch that failed for a passing reason waits for the next tick.)
                        caughtUp = try await fetchOrWait() <= 0
                        continue
                    }
                    guard let event = await stream.delivery.next() else { return false }
                    switch event {
                    case .tick:
                        _ = try await fetchOrWait()
                        await stream.followLeader()
                    case .batch(let frames):
                        guard frames.count == 3, let header = try? frames[1].withUnsafeBytes({ try Ganglion_V1_StreamBatchHeader(inPlace: $0) }),
                              header.nextOffset > expected else { continue }
                        if header.baseOffset > expected {
                            // A gap: the batches between were dropped. Fetch from where we are.
                            stream.repairs.increment()
                            _ = try await fetchOrWait()
                        } else {
                            take(try frames[2].withUnsafeBytes { try RecordDecoder.records(inBatches: $0, base: header.baseOffset) })
                        }
                    }
                }
                return true
            }

            /// ``fetchMore()``, where a failure that passes — no answer in time, the connection to
            /// a leader that stopped, a leader that moved — returns -1 and is retried at the next
            /// tick: the stream waits for its partition to be served again and never ends on it.
            private mutating func fetchOrWait() async throws -> Int {
                do {
                    return try await fetchMore()
                } catch let error as GanglionError where PartitionStream.passing.contains(error.code) {
                    return -1
                }
            }

            /// Fetches one chunk from `expected`; returns how many records it added.
            private mutating func fetchMore() async throws -> Int {
                let response: Ganglion_V1_FetchResponse, bytes: [UInt8]
                do {
                    (response, bytes) = try await stream.client.fetch(topic: stream.topic, partition: stream.partition, offset: expected)
                } catch let error as GanglionError where error.code == .offsetOutOfRange {
                    let bounds = try await stream.client.listOffsets(topic: stream.topic, partitions: [stream.partition], timestamp: -2).first?.offset ?? 0
                    let end = try await stream.client.listOffsets(topic: stream.topic, partitions: [stream.partition], timestamp: -1).first?.offset ?? 0
                    guard expected < bounds || expected > end else { throw error }  // a race with retention: retry next time
                    expected = try await stream.client.resetOffset(
                        topic: stream.topic, partition: stream.partition, policy: stream.reset,
                        why: "position \(expected) of \(stream.topic)-\(stream.partition) is outside its log (log start \(bounds), end \(end))")
                    return 0
                }
                let added = take(try PartitionStream.records(in: bytes, base: nil))
                expected = Swift.max(expected, response.nextOffset)
                return added
            }

            /// Queues the records at or after `expected`, advancing it.
            @discardableResult
            private mutating func take(_ records: [Record]) -> Int {
                if position >= ready.count {
                    ready.removeAll(keepingCapacity: true)
                    position = 0
                }
                var added = 0
                for record in records where record.offset >= expected {
                    ready.append(record)
                    expected = record.offset + 1
                    added += 1
                }
                return added
            }
        }
    }

    /// Fetch failures a later fetch can get past (the partition is served again, elsewhere or
    /// after a restart): a follower waits them out.
    static let passing: Set<Ganglion_V1_ErrorCode> = [.timeout, .notLeader, .fencedLeaderEpoch, .busy]

    /// The records of whole batches; `base` replaces the batches' own base offset (a live stream
    /// batch carries the producer's bytes, its offsets in the stream header).
    public static func records(in bytes: [UInt8], base: Int64?) throws -> [Record] {
        try RecordDecoder.records(inBatches: bytes, base: base)
    }
}

/// Counts repaired gaps (read from any thread).
final class RepairCounter: @unchecked Sendable {
    // `count` is guarded by `lock`.
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
