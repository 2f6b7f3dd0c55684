/// Which leader epoch began at which offset, so a replica that follows a new leader can find
/// where its log diverged (Kafka's leader-epoch checkpoint). Persisted on every change.
struct LeaderEpochCache: Sendable {
    struct Entry: Hashable, Sendable { var epoch: Int32; var startOffset: Int64 }
    private(set) var entries: [Entry] = []
    let path: String
    let directory: String

    init(directory: String) throws {
        self.directory = directory
        self.path = directory + "/leader-epoch-checkpoint"
        if LogDirectory.exists(path) {
            let file = try LogFile(path: path, create: false)
            let text = String(decoding: try file.read(at: 0, count: try file.size()), as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count == 2, let epoch = Int32(fields[0]), let start = Int64(fields[1]) else {
                    throw LogError(.corruption, "\(path): unreadable line \"\(line)\"")
                }
                entries.append(Entry(epoch: epoch, startOffset: start))
            }
        }
    }

    var latestEpoch: Int32? { entries.last?.epoch }

    /// Records that `epoch` starts at `offset` (no-op when it is the current epoch).
    mutating func assign(epoch: Int32, startOffset: Int64) throws {
        if let last = entries.last, last.epoch >= epoch { return }
        entries.append(Entry(epoch: epoch, startOffset: startOffset))
        try persist()
    }

    /// The end offset of `epoch` (the start of the next epoch, or `logEnd`) and the largest
    /// epoch ≤ the one asked, as Kafka's OffsetsForLeaderEpoch answers.
    func endOffset(for epoch: Int32, logEnd: Int64) -> (epoch: Int32, endOffset: Int64)? {
        guard let index = entries.lastIndex(where: { $0.epoch <= epoch }) else { return nil }
        let end = index + 1 < entries.count ? entries[index + 1].startOffset : logEnd
        return (entries[index].epoch, end)
    }

    /// Forgets epochs that start at or after `offset` (after a truncation).
    mutating func truncate(fromOffset offset: Int64) throws {
        let before = entries.count
        entries.removeAll { $0.startOffset >= offset }
        if entries.count != before { try persist() }
    }

    /// Moves the first epoch's start up to `offset` (after retention deleted the log's start).
    mutating func advanceStart(to offset: Int64) throws {
        let before = entries
        while entries.count > 1, entries[1].startOffset <= offset { entries.removeFirst() }
        if let first = entries.first, first.startOffset < offset { entries[0].startOffset = offset }
        if entries != before { try persist() }
    }

    private func persist() throws {
        var text = "0\n"
        for entry in entries { text += "\(entry.epoch) \(entry.startOffset)\n" }
        try LogDirectory.writeAtomically(Array(text.utf8), to: path, directory: directory)
    }
}

/// The high watermark and log-start offset, persisted so a restart resumes exactly.
struct LogCheckpoint: Sendable, Hashable {
    var highWatermark: Int64 = 0
    var logStartOffset: Int64 = 0

    static func path(in directory: String) -> String { directory + "/checkpoint" }

    static func load(from directory: String) throws -> LogCheckpoint? {
        let path = path(in: directory)
        guard LogDirectory.exists(path) else { return nil }
        let file = try LogFile(path: path, create: false)
        let text = String(decoding: try file.read(at: 0, count: try file.size()), as: UTF8.self)
        let fields = text.split(whereSeparator: { $0 == "\n" || $0 == " " })
        guard fields.count == 3, fields[0] == "0", let hw = Int64(fields[1]), let start = Int64(fields[2]) else {
            throw LogError(.corruption, "\(path): unreadable checkpoint \"\(text)\"")
        }
        return LogCheckpoint(highWatermark: hw, logStartOffset: start)
    }

    func save(to directory: String) throws {
        try LogDirectory.writeAtomically(Array("0\n\(highWatermark) \(logStartOffset)\n".utf8), to: LogCheckpoint.path(in: directory), directory: directory)
    }
}
