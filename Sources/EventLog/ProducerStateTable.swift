/// What the log remembers of each idempotent producer, so a retried batch is stored once:
/// its epoch, its last sequence number, and where its last few batches landed (Kafka keeps 5).
struct ProducerStateTable: Sendable {
    struct Entry: Sendable {
        var epoch: Int16
        var lastSequence: Int32
        /// (first sequence, last sequence, first offset) of the most recent batches.
        var recent: [(first: Int32, last: Int32, offset: Int64)]
    }

    static let remembered = 5
    private(set) var entries: [Int64: Entry] = [:]

    /// What to do with an incoming batch from a producer.
    enum Verdict {
        case append
        /// Already stored: answer with these offsets, do not store again.
        case duplicate(firstOffset: Int64)
    }

    /// Checks a batch's producer fields; throws for a fenced epoch or a sequence gap.
    func check(_ header: RecordBatchHeader) throws -> Verdict {
        guard header.producerID >= 0, let entry = entries[header.producerID] else { return .append }
        let last = header.baseSequence &+ header.lastOffsetDelta
        if header.producerEpoch < entry.epoch {
            throw LogError(.invalidProducerEpoch,
                           "producer \(header.producerID) sent epoch \(header.producerEpoch), but epoch \(entry.epoch) took over; this producer instance is fenced")
        }
        if header.producerEpoch > entry.epoch {
            guard header.baseSequence == 0 else {
                throw LogError(.outOfOrderSequence, "producer \(header.producerID) starts epoch \(header.producerEpoch) at sequence \(header.baseSequence), not 0")
            }
            return .append
        }
        if let stored = entry.recent.first(where: { $0.first == header.baseSequence && $0.last == last }) {
            return .duplicate(firstOffset: stored.offset)
        }
        guard header.baseSequence == entry.lastSequence &+ 1 else {
            throw LogError(.outOfOrderSequence,
                           "producer \(header.producerID) sent sequence \(header.baseSequence); expected \(entry.lastSequence &+ 1) (batches were lost in between)")
        }
        return .append
    }

    /// Records a stored batch.
    mutating func record(_ header: RecordBatchHeader) {
        guard header.producerID >= 0 else { return }
        let last = header.baseSequence &+ header.lastOffsetDelta
        var entry = entries[header.producerID] ?? Entry(epoch: header.producerEpoch, lastSequence: -1, recent: [])
        if header.producerEpoch > entry.epoch { entry = Entry(epoch: header.producerEpoch, lastSequence: -1, recent: []) }
        entry.lastSequence = last
        entry.recent.append((header.baseSequence, last, header.baseOffset))
        if entry.recent.count > Self.remembered { entry.recent.removeFirst() }
        entries[header.producerID] = entry
    }

    /// Forgets everything (before a rebuild).
    mutating func reset() { entries = [:] }
}
