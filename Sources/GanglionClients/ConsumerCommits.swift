import AsyncAlgorithms
import ClusterCore
import Foundation

/// When a ``GroupConsumer`` commits.
public enum CommitPolicy: Sendable, Hashable {
    /// Only ``GroupConsumer/commit(_:)`` commits.
    case manual
    /// A record (or batch) handed to the application counts as processed once it asks for the
    /// next one (Kafka's auto-commit); processed positions are committed every `interval`, before
    /// a partition is given up in a rebalance, and on ``GroupConsumer/close()``.
    case automatic(interval: Duration)

    /// Automatic commits every second.
    public static let automatic = CommitPolicy.automatic(interval: .seconds(1))
}

/// The next offset to commit per partition: past the last record the application finished.
final class ProcessedPositions: @unchecked Sendable {
    // `positions` and `committed` are guarded by `lock`.
    private let lock = NSLock()
    private var positions: [TopicPartition: Int64] = [:]
    private var committed: [TopicPartition: Int64] = [:]

    /// `record` was processed.
    func mark(_ record: DeliveredRecord) {
        let partition = TopicPartition(record.topic, Int32(record.partition))
        lock.withLock { positions[partition] = max(positions[partition] ?? 0, record.record.offset + 1) }
    }

    /// Positions not committed yet (of `partitions` only, when given).
    func pending(in partitions: Set<TopicPartition>? = nil) -> [TopicPartition: Int64] {
        lock.withLock {
            positions.filter { partition, offset in
                (partitions?.contains(partition) ?? true) && committed[partition] != offset
            }
        }
    }

    /// `positions` were committed.
    func committed(_ done: [TopicPartition: Int64]) {
        lock.withLock { for (partition, offset) in done { committed[partition] = offset } }
    }

    /// Forgets a partition given up (its next owner resumes from the committed offset).
    func forget(_ partition: TopicPartition) {
        lock.withLock {
            positions[partition] = nil
            committed[partition] = nil
        }
    }
}

extension GroupConsumer {
    /// Records one at a time; with ``CommitPolicy/automatic`` the previous record is marked
    /// processed when the next is asked for.
    public struct Records: AsyncSequence, Sendable {
        /// A delivered record.
        public typealias Element = DeliveredRecord
        let channel: AsyncThrowingChannel<[DeliveredRecord], any Error>
        let processed: ProcessedPositions?

        /// The iterator.
        public func makeAsyncIterator() -> Iterator {
            Iterator(batches: channel.makeAsyncIterator(), processed: processed)
        }

        /// Hands out records of batches in order.
        public struct Iterator: AsyncIteratorProtocol {
            var batches: AsyncThrowingChannel<[DeliveredRecord], any Error>.Iterator
            let processed: ProcessedPositions?
            var batch: [DeliveredRecord] = []
            var position = 0
            var last: DeliveredRecord?

            /// The next record; nil once the consumer closed.
            public mutating func next() async throws -> DeliveredRecord? {
                if let last { processed?.mark(last) }
                last = nil
                while position >= batch.count {
                    guard let next = try await batches.next() else { return nil }
                    batch = next
                    position = 0
                }
                defer { position += 1 }
                last = batch[position]
                return batch[position]
            }
        }
    }

    /// Whole batches; with ``CommitPolicy/automatic`` the previous batch is marked processed when
    /// the next is asked for.
    public struct Batches: AsyncSequence, Sendable {
        /// The records of one batch, in offset order.
        public typealias Element = [DeliveredRecord]
        let channel: AsyncThrowingChannel<[DeliveredRecord], any Error>
        let processed: ProcessedPositions?

        /// The iterator.
        public func makeAsyncIterator() -> Iterator {
            Iterator(batches: channel.makeAsyncIterator(), processed: processed)
        }

        /// Hands out batches in order.
        public struct Iterator: AsyncIteratorProtocol {
            var batches: AsyncThrowingChannel<[DeliveredRecord], any Error>.Iterator
            let processed: ProcessedPositions?
            var last: DeliveredRecord?

            /// The next batch; nil once the consumer closed.
            public mutating func next() async throws -> [DeliveredRecord]? {
                if let last { processed?.mark(last) }
                last = nil
                guard let batch = try await batches.next() else { return nil }
                last = batch.last
                return batch
            }
        }
    }
}
