import ClusterCore

/// One simulated voter: the Raft core, its disk (what survives a crash), the directives it
/// produced that are not yet durable, and its application (the entries applied, in order).
struct SimulatedRaftNode {
    /// The core, nil while crashed.
    var raft: RaftNode?
    /// What the node persisted.
    var disk = RaftPersistentState()
    /// Directives waiting for their fsync, in order, with the node's term when produced; a crash loses them.
    var unsynced: [(durableAt: Int64, term: Int64, ready: RaftReady)] = []
    /// The application's state: every applied entry, from index 1.
    var applied: [RaftEntry] = []
    /// When a crashed node restarts, or a paused one resumes.
    var downUntil: Int64 = 0
    /// Whether the node is paused (its process stopped, memory kept).
    var paused = false
    /// The tick phase: the node ticks when the virtual time modulo the tick interval equals it.
    var phase: Int64

    /// Makes `ready` durable: the snapshot, then the entries (replacing the stored suffix), then
    /// the hard state; returns what the application must then apply.
    mutating func persist(_ ready: RaftReady) {
        if let snapshot = ready.snapshot {
            disk.snapshot = snapshot
            disk.entries = []
            applied = SnapshotCodec.decode(snapshot.data)
        }
        if let first = ready.entries.first {
            disk.entries.removeAll { $0.index >= first.index }
            disk.entries.append(contentsOf: ready.entries)
        }
        if let hardState = ready.hardState { disk.hardState = hardState }
    }
}

/// The simulated application's snapshot: the applied entries, term and payload of each.
enum SnapshotCodec {
    /// Encodes the applied entries (8-byte term, kind, 1-byte length, payload).
    static func encode(_ entries: ArraySlice<RaftEntry>) -> [UInt8] {
        var bytes: [UInt8] = []
        for entry in entries {
            withUnsafeBytes(of: entry.term.littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(entry.kind.rawValue)
            bytes.append(UInt8(entry.data.count))
            bytes.append(contentsOf: entry.data)
        }
        return bytes
    }

    /// Decodes what ``encode(_:)`` wrote.
    static func decode(_ bytes: [UInt8]) -> [RaftEntry] {
        var entries: [RaftEntry] = []
        var offset = 0
        while offset < bytes.count {
            var term: Int64 = 0
            for shift in 0..<8 { term |= Int64(bytes[offset + shift]) << (8 * shift) }
            let kind = RaftEntry.Kind(rawValue: bytes[offset + 8]) ?? .command
            let count = Int(bytes[offset + 9])
            let data = Array(bytes[(offset + 10)..<(offset + 10 + count)])
            entries.append(RaftEntry(term: term, index: Int64(entries.count + 1), kind: kind, data: data))
            offset += 10 + count
        }
        return entries
    }
}
