/// A Raft node's log as the core holds it: the latest snapshot (the compaction point), the
/// entries after it, and how far they are committed, handed over for persistence and applied.
public struct RaftLog: Sendable, Hashable {
    /// The latest snapshot; entries up to its index are compacted away.
    public private(set) var snapshot: RaftSnapshot?
    /// The entries after the snapshot, contiguous from ``firstIndex``.
    public private(set) var entries: [RaftEntry]
    /// The highest index known to be committed.
    public private(set) var committed: Int64
    /// The highest index handed to the application to apply.
    public private(set) var applied: Int64
    /// The first index not yet handed over for persistence.
    private(set) var unstable: Int64
    /// A snapshot received from the leader, not yet handed over.
    private(set) var pendingSnapshot: RaftSnapshot?

    /// The index the snapshot covers (0 without one).
    public var snapshotIndex: Int64 { snapshot?.index ?? 0 }
    /// The term of the entry at ``snapshotIndex`` (0 without a snapshot).
    public var snapshotTerm: Int64 { snapshot?.term ?? 0 }
    /// The index of the first entry held.
    public var firstIndex: Int64 { snapshotIndex + 1 }
    /// The index of the last entry (the snapshot's when no entries follow it).
    public var lastIndex: Int64 { snapshotIndex + Int64(entries.count) }
    /// The term of the last entry.
    public var lastTerm: Int64 { entries.last?.term ?? snapshotTerm }

    /// The log a node restarts with: everything persisted counts as handed over, and entries
    /// after the snapshot up to the commit index are applied again.
    init(persisted: RaftPersistentState) throws(RaftError) {
        snapshot = persisted.snapshot
        entries = persisted.entries
        committed = persisted.hardState.commit
        applied = persisted.snapshot?.index ?? 0
        unstable = 0
        unstable = lastIndex + 1
        for (offset, entry) in entries.enumerated() where entry.index != firstIndex + Int64(offset) {
            throw RaftError(code: .invalidPersistentState,
                            message: "entry \(entry.index) found where \(firstIndex + Int64(offset)) belongs: entries must follow the snapshot contiguously")
        }
        guard (snapshotIndex...lastIndex).contains(committed) else {
            throw RaftError(code: .invalidPersistentState,
                            message: "commit index \(committed) outside the log \(snapshotIndex)…\(lastIndex)")
        }
    }

    /// The term of the entry at `index`, or nil when it is compacted away or beyond the log.
    public func term(at index: Int64) -> Int64? {
        if index == snapshotIndex { return snapshotTerm }
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - firstIndex)].term
    }

    /// The entry at `index`, or nil when it is compacted away or beyond the log.
    public func entry(at index: Int64) -> RaftEntry? {
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - firstIndex)]
    }

    /// Up to `limit` entries from `index` (which must be held).
    func entries(from index: Int64, limit: Int) -> [RaftEntry] {
        guard index <= lastIndex else { return [] }
        let start = Int(index - firstIndex)
        return Array(entries[start..<min(entries.count, start + limit)])
    }

    /// Whether a log ending at (`lastIndex`, `lastTerm`) is at least as up to date as this one (Raft §5.4.1).
    func isUpToDate(lastIndex otherIndex: Int64, lastTerm otherTerm: Int64) -> Bool {
        otherTerm > lastTerm || (otherTerm == lastTerm && otherIndex >= lastIndex)
    }

    /// Appends a leader's entries after `prevIndex` if this log has `prevTerm` there, replacing a
    /// conflicting suffix (never a committed entry); returns the index of the last new entry, or
    /// nil when the log does not match at `prevIndex`.
    mutating func append(after prevIndex: Int64, prevTerm: Int64, _ newEntries: [RaftEntry]) -> Int64? {
        guard term(at: prevIndex) == prevTerm else { return nil }
        for entry in newEntries {
            if let existing = term(at: entry.index) {
                if existing == entry.term { continue }
                precondition(entry.index > committed, "Raft: a leader asked to overwrite committed entry \(entry.index)")
                truncate(from: entry.index)
            }
            precondition(entry.index == lastIndex + 1, "Raft: entries must be appended contiguously")
            entries.append(entry)
        }
        return prevIndex + Int64(newEntries.count)
    }

    /// Appends a new entry of the leader's own.
    mutating func appendNew(term: Int64, kind: RaftEntry.Kind, data: [UInt8]) -> RaftEntry {
        let entry = RaftEntry(term: term, index: lastIndex + 1, kind: kind, data: data)
        entries.append(entry)
        return entry
    }

    /// Where a leader whose append at `prevIndex` (of `prevTerm`) was refused should probe next:
    /// the highest index at or below both `prevIndex - 1` and the last index whose term is at most
    /// `prevTerm` (an entry of a later term there cannot be in the leader's log).
    func conflictHint(prevIndex: Int64, prevTerm: Int64) -> Int64 {
        var index = min(prevIndex - 1, lastIndex)
        while index > snapshotIndex, let term = term(at: index), term > prevTerm { index -= 1 }
        return max(index, snapshotIndex)
    }

    /// Raises the commit index to `index` (never lowers it).
    mutating func commit(to index: Int64) {
        precondition(index <= lastIndex, "Raft: commit \(index) beyond the last index \(lastIndex)")
        if index > committed { committed = index }
    }

    /// Compacts the entries up to `index` into `snapshot`, which the application has persisted.
    mutating func compact(into snapshot: RaftSnapshot) {
        entries.removeFirst(Int(snapshot.index - snapshotIndex))
        self.snapshot = snapshot
    }

    /// Replaces the whole log with the leader's `snapshot`.
    mutating func restore(_ snapshot: RaftSnapshot) {
        entries = []
        self.snapshot = snapshot
        committed = snapshot.index
        applied = snapshot.index
        unstable = snapshot.index + 1
        pendingSnapshot = snapshot
    }

    /// Hands over the snapshot and entries not yet persisted.
    mutating func takeUnstable() -> (RaftSnapshot?, [RaftEntry]) {
        let snapshot = pendingSnapshot
        pendingSnapshot = nil
        let fresh = unstable <= lastIndex ? Array(entries[Int(max(unstable, firstIndex) - firstIndex)...]) : []
        unstable = lastIndex + 1
        return (snapshot, fresh)
    }

    /// Hands over the committed entries not yet applied.
    mutating func takeCommitted() -> [RaftEntry] {
        guard committed > applied else { return [] }
        let ready = Array(entries[Int(applied + 1 - firstIndex)...Int(committed - firstIndex)])
        applied = committed
        return ready
    }

    /// Forgets the entries from `index` on.
    private mutating func truncate(from index: Int64) {
        entries.removeLast(Int(lastIndex - index + 1))
        unstable = min(unstable, index)
    }
}
