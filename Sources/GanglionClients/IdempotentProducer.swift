import EventLog
import Foundation
import GanglionWire

/// A producer whose retries never store an event twice: it holds a producer id and epoch from
/// the node, numbers its records per partition, and resends a failed batch with the same numbers
/// (the node answers a batch it already has with the stored offsets). A newer instance with the
/// same id fences this one: its sends then fail with `.invalidProducerEpoch`.
public actor IdempotentProducer {
    private let client: GanglionClient
    /// The producer id issued by the node.
    public nonisolated let producerID: Int64
    /// This instance's epoch.
    public nonisolated let epoch: Int16
    private var nextSequence: [String: Int32] = [:]
    /// How many times a batch is resent after a timeout or `busy` before giving up.
    public let maxAttempts: Int

    /// Asks the node for a new producer id, or (with `resuming`) for the next epoch of one.
    public init(client: GanglionClient, resuming producerID: Int64? = nil, maxAttempts: Int = 5) async throws {
        let issued = try await client.initProducerID(resuming: producerID)
        self.client = client
        self.producerID = issued.id
        self.epoch = issued.epoch
        self.maxAttempts = maxAttempts
    }

    /// Sends records to a partition as one batch; returns the first record's offset. Retries that
    /// reach the node twice are stored once.
    @discardableResult
    public func send(topic: String, partition: UInt32, records: [Record]) async throws -> Int64 {
        let key = "\(topic)\u{0}\(partition)"
        let sequence = nextSequence[key] ?? 0
        var builder = RecordBatchBuilder()
        builder.producerID = producerID
        builder.producerEpoch = epoch
        builder.baseSequence = sequence
        for record in records { builder.append(record) }
        let batch = builder.build()
        nextSequence[key] = sequence &+ Int32(records.count)
        var attempt = 1
        while true {
            do {
                return try await client.produce(topic: topic, partition: partition, batch: batch)
            } catch let error as GanglionError where [.timeout, .busy, .notLeader, .fencedLeaderEpoch, .notEnoughReplicas].contains(error.code) && attempt < maxAttempts {
                attempt += 1
                let wait = error.retryAfterMilliseconds > 0 ? Int(error.retryAfterMilliseconds) : 50 * attempt
                try await Task.sleep(for: .milliseconds(wait))
            }
        }
    }
}
