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

    /// The table as text, one producer per line: `id epoch lastSequence first:last:offset,…`.
    func encoded() -> String {
        entries.keys.sorted().map { id in
            let entry = entries[id]!
            let recent = entry.recent.map { "\($0.first):\($0.last):\($0.offset)" }.joined(separator: ",")
            return "\(id) \(entry.epoch) \(entry.lastSequence) \(recent)"
        }.joined(separator: "\n")
    }

    /// The table ``encoded()`` wrote; nil when a line does not parse.
    static func decode(_ text: Substring) -> ProducerStateTable? {
        var table = ProducerStateTable()
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 4, let id = Int64(fields[0]), let epoch = Int16(fields[1]), let last = Int32(fields[2]) else { return nil }
            var recent: [(first: Int32, last: Int32, offset: Int64)] = []
            for item in fields[3].split(separator: ",") {
                let parts = item.split(separator: ":")
                guard parts.count == 3, let first = Int32(parts[0]), let end = Int32(parts[1]), let offset = Int64(parts[2]) else { return nil }
                recent.append((first, end, offset))
            }
            table.entries[id] = Entry(epoch: epoch, lastSequence: last, recent: recent)
        }
        return table
    }
}

/// The producers' state as of an offset (`producers.snapshot` in the log's directory), written
/// at every segment roll and at close: compaction may remove a producer's last batches from
/// closed segments, so their headers alone cannot rebuild its sequence (Kafka keeps the same).
struct ProducerSnapshot {
    /// Every batch below this offset is in the table.
    var offset: Int64
    var table: ProducerStateTable

    static func path(in directory: String) -> String { directory + "/producers.snapshot" }

    /// The snapshot in `directory`, if there is a readable one.
    static func load(from directory: String) -> ProducerSnapshot? {
        let path = path(in: directory)
        guard LogDirectory.exists(path), let file = try? LogFile(path: path, create: false),
              let size = try? file.size(), let bytes = try? file.read(at: 0, count: size) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        let header = text.prefix { $0 != "\n" }
        let fields = header.split(separator: " ")
        guard fields.count == 2, fields[0] == "1", let offset = Int64(fields[1]),
              let table = ProducerStateTable.decode(text.dropFirst(header.count)) else { return nil }
        return ProducerSnapshot(offset: offset, table: table)
    }

    /// Replaces the snapshot in `directory` atomically and durably.
    func save(to directory: String, faults: LogFaults?) throws {
        try LogDirectory.writeAtomically(Array("1 \(offset)\n\(table.encoded())\n".utf8), to: Self.path(in: directory),
                                         directory: directory, faults: faults)
    }
}
