import ClusterCore
import EventLog
import Foundation
import GanglionWire

/// How a ``Producer`` batches, buffers and retries.
public struct ProducerConfiguration: Sendable {
    /// How long a partition's first buffered record waits for others to share its batch.
    public var linger: Duration = .milliseconds(2)
    /// Records per batch at most (a full batch goes at once, without lingering).
    public var maxBatchRecords = 1000
    /// Bytes of record values and keys per batch at most.
    public var maxBatchBytes = 1 << 20
    /// Records buffered and unacknowledged at most; beyond it `send` and `enqueue` wait — the
    /// backpressure a caller feels instead of unbounded memory.
    public var maxBufferedRecords = 100_000
    /// Batches in flight at most, over all partitions (one per partition at a time): a node lets
    /// one client have up to 1024 produce requests waiting by default and refuses more as `busy`.
    /// Partitions ready beyond it wait their turn, in the order they became ready.
    public var maxInFlightBatches = 256
    /// Attempts per batch (timeouts and `busy` answers are retried with the same producer
    /// sequence, so the node stores a retried batch once).
    public var maxAttempts = 10
    /// How long a topic's partition count is trusted before it is read again (Kafka's
    /// `metadata.max.age.ms`). A topic the node no longer knows, or a partition it no longer has,
    /// is read again with the next record at once.
    public var metadataMaxAge: Duration = .seconds(300)

    /// The defaults: 2 ms linger, 1000 records or 1 MiB per batch, 100 000 buffered, 256 batches
    /// in flight, 10 attempts, partition counts read again after 5 minutes.
    public init() {}
}

/// Where the node stored a record.
public struct RecordMetadata: Sendable, Hashable {
    /// The topic.
    public var topic: String
    /// The partition.
    public var partition: UInt32
    /// The record's offset.
    public var offset: Int64
}

/// A batching, idempotent producer: records for one partition are gathered into a batch for up
/// to ``ProducerConfiguration/linger`` (or until the batch is full), one batch per partition is in
/// flight at a time while the next one fills, and a batch that times out or meets `busy` is resent
/// with its producer id and sequence, so it is stored once. Keys choose partitions by murmur2 as
/// Kafka's producer does; records without a key stick to one partition per batch.
public actor Producer {
    private struct Pending {
        var record: Record
        var size: Int
        /// Told where the record was stored, or why not; nil for ``enqueue`` (failures go to flush).
        var waiter: (@Sendable (Result<RecordMetadata, any Error>) -> Void)?
    }

    private struct PartitionKey: Hashable {
        var topic: String
        var partition: UInt32
    }

    private let client: GanglionClient
    /// The producer id issued by the node.
    public nonisolated let producerID: Int64
    /// This instance's epoch: bumped after a batch's outcome stayed unknown (its retries ran
    /// out), which restarts the sequences; a newer instance with the same id fences this one.
    public private(set) var epoch: Int16
    /// The settings.
    public nonisolated let configuration: ProducerConfiguration

    /// Each topic's partition count and when it was read.
    private var partitionCounts: [String: (count: Int32, readAt: ContinuousClock.Instant)] = [:]
    /// Metadata requests in flight, by topic.
    private var lookups: [String: Task<Int32, any Error>] = [:]
    private var sticky: [String: UInt32] = [:]
    private var queues: [PartitionKey: [Pending]] = [:]
    private var queuedBytes: [PartitionKey: Int] = [:]
    private var inFlight: Set<PartitionKey> = []
    /// Partitions with a batch to send while ``ProducerConfiguration/maxInFlightBatches`` were in
    /// flight, oldest first (`readyIndex` is where the queue starts); an entry no longer in
    /// `waitingTurn` was dispatched otherwise and is skipped.
    private var ready: [PartitionKey] = []
    private var readyIndex = 0
    private var waitingTurn: Set<PartitionKey> = []
    private var lingering: Set<PartitionKey> = []
    private var nextSequence: [PartitionKey: Int32] = [:]
    private var buffered = 0
    private var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var deliveryFailure: (any Error)?
    /// Set when a batch may or may not be stored: no batch goes out until the epoch is bumped.
    private var epochBumpWanted = false
    private var bumping = false
    /// Set when a newer instance took over: every later send fails with it.
    private var fenced: GanglionError?
    /// Batches resent after a timeout or `busy`, so far.
    public private(set) var retries = 0
    /// Batches acknowledged so far.
    public private(set) var batchesSent = 0

    /// A producer on `client`, with a new producer id from the node (or, with `resuming`, the next
    /// epoch of an earlier one, fencing its older instances).
    public init(client: GanglionClient, resuming producerID: Int64? = nil, configuration: ProducerConfiguration = ProducerConfiguration()) async throws {
        let issued = try await client.initProducerID(resuming: producerID)
        self.client = client
        self.producerID = issued.id
        self.epoch = issued.epoch
        self.configuration = configuration
    }

    /// Sends one record and returns where it was stored, once the node acknowledged its batch.
    @discardableResult
    public func send(topic: String, key: [UInt8]? = nil, value: [UInt8]?, timestamp: Int64? = nil,
                     headers: [(key: String, value: [UInt8]?)] = []) async throws -> RecordMetadata {
        if let fenced { throw fenced }
        let target = try await partition(topic: topic, key: key)
        await waitForSpace()
        let record = Record(key: key, value: value, timestamp: timestamp ?? Self.now(), headers: headers)
        return try await withCheckedThrowingContinuation { continuation in
            add(Pending(record: record, size: Self.size(of: record), waiter: { continuation.resume(with: $0) }), to: target)
        }
    }

    /// Sends several records and returns where each was stored, once all are acknowledged (or
    /// throws the first failure). Records for one partition are stored in the order given —
    /// unlike concurrent ``send(topic:key:value:timestamp:headers:)`` calls, whose order is
    /// whichever reaches the producer first.
    @discardableResult
    public func send(_ records: [(topic: String, key: [UInt8]?, value: [UInt8]?)]) async throws -> [RecordMetadata] {
        if let fenced { throw fenced }
        guard !records.isEmpty else { return [] }
        var targets: [PartitionKey] = []
        for record in records { targets.append(try await partition(topic: record.topic, key: record.key)) }
        await waitForSpace()
        let now = Self.now()
        return try await withCheckedThrowingContinuation { continuation in
            let results = BatchResults(count: records.count, continuation)
            // Added without a suspension in between: nothing else can slip into the order. Each
            // run of records for one partition joins its queue at once (one lookup per run, not
            // several per record).
            var dispatched: [PartitionKey] = []
            var start = 0
            while start < records.count {
                let key = targets[start]
                var end = start + 1
                while end < records.count && targets[end] == key { end += 1 }
                var run: [Pending] = []
                run.reserveCapacity(end - start)
                for index in start..<end {
                    let record = Record(key: records[index].key, value: records[index].value, timestamp: now)
                    run.append(Pending(record: record, size: Self.size(of: record), waiter: { results.deliver(index, $0) }))
                }
                buffer(run, for: key)
                if !dispatched.contains(key) { dispatched.append(key) }
                start = end
            }
            // The records are all here: their partitions go at once. Lingering would only delay
            // what the caller awaits (and cost a timer and two thread hops per partition); other
            // callers' records still join them while a partition's batch is in flight.
            for key in dispatched where !inFlight.contains(key) { dispatch(key) }
        }
    }

    /// Sends an event envelope to the partition of its key; returns where it was stored.
    @discardableResult
    public func send(topic: String, event: EventEnvelope) async throws -> RecordMetadata {
        try await send(topic: topic, key: event.key.isEmpty ? nil : Array(event.key), value: try event.serializedBytes(),
                       timestamp: event.hasTime ? event.time.seconds * 1000 + Int64(event.time.nanos / 1_000_000) : nil)
    }

    /// Buffers one record and returns at once (waiting only while the buffer is full); a delivery
    /// failure is thrown by the next ``flush()``.
    public func enqueue(topic: String, key: [UInt8]? = nil, value: [UInt8]?, timestamp: Int64? = nil) async throws {
        if let failure = fenced ?? deliveryFailure { throw failure }
        let target = try await partition(topic: topic, key: key)
        await waitForSpace()
        let record = Record(key: key, value: value, timestamp: timestamp ?? Self.now())
        add(Pending(record: record, size: Self.size(of: record), waiter: nil), to: target)
    }

    /// Sends everything buffered now and waits until it is acknowledged; throws the first failure
    /// of an ``enqueue(topic:key:value:timestamp:)``'d record since the last flush.
    public func flush() async throws {
        dispatchWaitingTurns()
        for key in queues.keys where !(queues[key]?.isEmpty ?? true) && !inFlight.contains(key) && !waitingTurn.contains(key) { dispatch(key) }
        while buffered > 0 { await withCheckedContinuation { idleWaiters.append($0) } }
        if let failure = deliveryFailure {
            deliveryFailure = nil
            throw failure
        }
    }

    /// Records buffered or in flight, not yet acknowledged.
    public var unacknowledged: Int { buffered }

    // MARK: Partitioning and buffering

    private func partition(topic: String, key: [UInt8]?) async throws -> PartitionKey {
        let count: Int32
        if let known = partitionCounts[topic], known.readAt.duration(to: .now) < configuration.metadataMaxAge {
            count = known.count
        } else if let inFlight = lookups[topic] {
            // Another record already asked: one metadata request per topic at a time.
            count = try await inFlight.value
        } else {
            let client = self.client
            let attempts = configuration.maxAttempts
            let lookup = Task {
                // Asked again, as a produce is resent, when no answer came (a node restarting):
                // a read changes nothing, and failing here would fail a send before it was sent.
                var attempt = 1
                var read: Ganglion_V1_MetadataResponse?
                while read == nil {
                    do {
                        read = try await client.metadata(topics: [topic])
                    } catch let error as GanglionError where [.timeout, .busy, .notLeader].contains(error.code) && attempt < attempts {
                        attempt += 1
                        try await Task.sleep(for: Self.pause(before: attempt, after: error))
                    }
                }
                guard let metadata = read, let described = metadata.topics.first else {
                    throw GanglionError(code: .unknownTopic, message: "topic \(topic) does not exist; create it with `ganglion topic create \(topic)`")
                }
                return Int32(described.config.partitions)
            }
            lookups[topic] = lookup
            defer { lookups[topic] = nil }
            count = try await lookup.value
            partitionCounts[topic] = (count, .now)
        }
        if let key { return PartitionKey(topic: topic, partition: UInt32(KeyPartitioner.partition(for: key, partitionCount: count))) }
        let chosen = sticky[topic].flatMap { $0 < UInt32(count) ? $0 : nil } ?? UInt32.random(in: 0..<UInt32(count))
        sticky[topic] = chosen
        return PartitionKey(topic: topic, partition: chosen)
    }

    /// How long to wait before attempt `attempt` after `error`: the node's hint, else 20 ms more
    /// per attempt up to 500 ms (a produce resent, a partition read asked again).
    private static func pause(before attempt: Int, after error: GanglionError) -> Duration {
        .milliseconds(error.retryAfterMilliseconds > 0 ? Int(error.retryAfterMilliseconds) : min(20 * attempt, 500))
    }

    private func waitForSpace() async {
        while buffered >= configuration.maxBufferedRecords {
            await withCheckedContinuation { spaceWaiters.append($0) }
        }
    }

    /// Buffers `run` for `key`'s next batch, to be dispatched by the caller.
    private func buffer(_ run: [Pending], for key: PartitionKey) {
        buffered += run.count
        queues[key, default: []].append(contentsOf: run)
        queuedBytes[key, default: 0] += run.reduce(0) { $0 + $1.size }
    }

    /// Buffers `pending` for `key`'s next batch: sent at once when full, else after the linger.
    private func add(_ pending: Pending, to key: PartitionKey) {
        buffered += 1
        queues[key, default: []].append(pending)
        queuedBytes[key, default: 0] += pending.size
        guard !inFlight.contains(key) else { return }
        if queues[key]!.count >= configuration.maxBatchRecords || queuedBytes[key]! >= configuration.maxBatchBytes {
            dispatch(key)
        } else if !lingering.contains(key) {
            lingering.insert(key)
            let linger = configuration.linger
            Task { [weak self] in
                try? await Task.sleep(for: linger)
                await self?.lingerEnded(key)
            }
        }
    }

    private func lingerEnded(_ key: PartitionKey) {
        lingering.remove(key)
        if !inFlight.contains(key), !(queues[key]?.isEmpty ?? true) { dispatch(key) }
    }

    // MARK: Sending

    /// Takes one batch from the partition's queue and sends it (one batch in flight per partition),
    /// or queues the partition for its turn when the most batches are in flight.
    private func dispatch(_ key: PartitionKey) {
        guard !epochBumpWanted, var queue = queues[key], !queue.isEmpty else { return }
        guard inFlight.count < max(1, configuration.maxInFlightBatches) else {
            if waitingTurn.insert(key).inserted { ready.append(key) }
            return
        }
        waitingTurn.remove(key)  // its entry in `ready`, if any, is skipped there
        var count = 0
        var bytes = 0
        while count < queue.count, count < configuration.maxBatchRecords, count == 0 || bytes + queue[count].size <= configuration.maxBatchBytes {
            bytes += queue[count].size
            count += 1
        }
        let taken = Array(queue[..<count])
        queue.removeFirst(count)
        queues[key] = queue
        queuedBytes[key, default: 0] -= bytes
        // Records without a key move to another partition with the next batch (Kafka's sticky partitioner).
        if sticky[key.topic] == key.partition, let partitions = partitionCounts[key.topic]?.count, partitions > 1 {
            sticky[key.topic] = (key.partition + 1) % UInt32(partitions)
        }
        let sequence = nextSequence[key] ?? 0
        nextSequence[key] = sequence &+ Int32(count)
        var builder = RecordBatchBuilder()
        builder.producerID = producerID
        builder.producerEpoch = epoch
        builder.baseSequence = sequence
        for pending in taken { builder.append(pending.record) }
        let batch = builder.build()
        inFlight.insert(key)
        let client = self.client
        let attempts = configuration.maxAttempts
        Task {
            var attempt = 1
            var resent = 0
            // Whether some attempt may have been stored (it timed out, or was refused after its
            // append): then a later refusal does not make the batch's outcome known.
            var uncertain = false
            var result: Result<Int64, any Error>
            while true {
                do {
                    result = .success(try await client.produce(topic: key.topic, partition: key.partition, batch: batch))
                    break
                } catch let error as GanglionError where [.timeout, .busy, .notLeader, .fencedLeaderEpoch, .notEnoughReplicas].contains(error.code) && attempt < attempts {
                    if error.code == .timeout || error.code == .notEnoughReplicas { uncertain = true }
                    attempt += 1
                    resent += 1
                    try? await Task.sleep(for: Self.pause(before: attempt, after: error))
                } catch {
                    result = .failure(error)
                    break
                }
            }
            if uncertain, case .failure(let error) = result, (error as? GanglionError)?.code != .timeout {
                result = .failure(GanglionError(code: .timeout, message: "an earlier attempt's outcome is unknown (it timed out); the last attempt: \(error)"))
            }
            let outcome = result
            await self.completed(key, taken, sequence: sequence, outcome, resent: resent)
        }
    }

    private func completed(_ key: PartitionKey, _ taken: [Pending], sequence: Int32, _ result: Result<Int64, any Error>, resent: Int) {
        inFlight.remove(key)
        retries += resent
        switch result {
        case .success(let base):
            batchesSent += 1
            for (index, pending) in taken.enumerated() {
                pending.waiter?(.success(RecordMetadata(topic: key.topic, partition: key.partition, offset: base + Int64(index))))
            }
        case .failure(let error):
            switch (error as? GanglionError)?.code {
            case .invalidProducerEpoch?:
                fenced = error as? GanglionError
            case .unknownTopic?, .unknownPartition?:
                // The topic was deleted or re-created smaller: read its partitions again.
                partitionCounts[key.topic] = nil
                sticky[key.topic] = nil
                nextSequence[key] = sequence
            case .timeout?, .busy?, .internal?, .notEnoughReplicas?, nil:
                // Stored or not, nobody knows: a new epoch restarts the sequences safely.
                epochBumpWanted = true
            default:
                // Refused, so not stored: the next batch reuses the sequence.
                nextSequence[key] = sequence
            }
            if deliveryFailure == nil, taken.contains(where: { $0.waiter == nil }) { deliveryFailure = error }
            for pending in taken { pending.waiter?(.failure(error)) }
        }
        buffered -= taken.count
        let waiters = spaceWaiters
        spaceWaiters = []
        for waiter in waiters { waiter.resume() }
        if buffered == 0 {
            let idle = idleWaiters
            idleWaiters = []
            for waiter in idle { waiter.resume() }
        }
        if epochBumpWanted {
            if inFlight.isEmpty && !bumping { startEpochBump() }
            return
        }
        // Partitions that waited for a turn go first, then what arrived while this batch was
        // in flight (it has waited long enough).
        dispatchWaitingTurns()
        if !(queues[key]?.isEmpty ?? true) && !inFlight.contains(key) { dispatch(key) }
    }

    /// Sends the batches of partitions that waited for room in flight, oldest first, while there is room.
    private func dispatchWaitingTurns() {
        while readyIndex < ready.count && inFlight.count < max(1, configuration.maxInFlightBatches) {
            let key = ready[readyIndex]
            readyIndex += 1
            if waitingTurn.remove(key) != nil, !inFlight.contains(key) { dispatch(key) }
        }
        if readyIndex == ready.count || readyIndex > 1024 {
            ready.removeFirst(readyIndex)
            readyIndex = 0
        }
    }

    /// Asks the node for the next epoch of this producer id (once nothing is in flight), then
    /// sends what waited.
    private func startEpochBump() {
        bumping = true
        let client = self.client, producerID = self.producerID
        Task {
            while true {
                do {
                    await self.epochBumped(to: try await client.initProducerID(resuming: producerID).epoch)
                    return
                } catch {
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
        }
    }

    private func epochBumped(to newEpoch: Int16) {
        epoch = newEpoch
        nextSequence = [:]
        bumping = false
        epochBumpWanted = false
        dispatchWaitingTurns()
        for key in queues.keys where !(queues[key]?.isEmpty ?? true) && !inFlight.contains(key) && !waitingTurn.contains(key) { dispatch(key) }
    }

    private static func size(of record: Record) -> Int {
        (record.key?.count ?? 0) + (record.value?.count ?? 0) + 16
    }

    private static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// Gathers the outcomes of a batch of records and resumes its sender once: with every record's
/// metadata, or with the first failure.
private final class BatchResults: @unchecked Sendable {
    // `results`, `remaining` and `continuation` are guarded by `lock`.
    private let lock = NSLock()
    private var results: [RecordMetadata?]
    private var remaining: Int
    private var continuation: CheckedContinuation<[RecordMetadata], any Error>?

    init(count: Int, _ continuation: CheckedContinuation<[RecordMetadata], any Error>) {
        results = Array(repeating: nil, count: count)
        remaining = count
        self.continuation = continuation
    }

    func deliver(_ index: Int, _ outcome: Result<RecordMetadata, any Error>) {
        let finished: (CheckedContinuation<[RecordMetadata], any Error>, Result<[RecordMetadata], any Error>)? = lock.withLock {
            guard let waiting = continuation else { return nil }
            switch outcome {
            case .failure(let error):
                continuation = nil
                return (waiting, .failure(error))
            case .success(let metadata):
                results[index] = metadata
                remaining -= 1
                guard remaining == 0 else { return nil }
                continuation = nil
                return (waiting, .success(results.map { $0! }))
            }
        }
        if let (waiting, result) = finished { waiting.resume(with: result) }
    }
}
