import ClusterCore

/// The safety properties of Raft, checked as a simulation goes: at most one leader per term,
/// log matching, leader completeness, committed entries never change, commit indexes never
/// decrease. Each check returns a description of the violation, or nil.
struct RaftInvariants {
    /// The leader of each term seen so far.
    private var leaders: [Int64: String] = [:]
    /// Every committed entry known, from index 1, and the lowest term in which a node knew it committed.
    private(set) var committed: [(entry: RaftEntry, term: Int64)] = []
    /// For each (index, term) seen in any log: the entry and the term of the entry before it.
    private var identity: [Int64: [Int64: (entry: RaftEntry, previousTerm: Int64)]] = [:]
    /// Each live node's commit index at the last check.
    private var commitIndexes: [String: Int64] = [:]
    /// Per leader: its term and how far it was checked against the committed entries.
    private var leaderChecked: [String: (term: Int64, through: Int)] = [:]

    /// Checks a live node's state after a step.
    mutating func check(_ id: String, _ raft: RaftNode) -> String? {
        if raft.log.committed < commitIndexes[id, default: 0] {
            return "\(id)'s commit index went back from \(commitIndexes[id, default: 0]) to \(raft.log.committed)"
        }
        commitIndexes[id] = raft.log.committed
        guard raft.role == .leader else { return nil }
        if let other = leaders[raft.term], other != id {
            return "two leaders in term \(raft.term): \(other) and \(id)"
        }
        leaders[raft.term] = id
        // Leader completeness: every entry committed in an earlier term is in this leader's log.
        var from = Int(raft.log.snapshotIndex)
        if let checked = leaderChecked[id], checked.term == raft.term { from = max(from, checked.through) }
        for position in from..<committed.count where committed[position].term < raft.term {
            let entry = committed[position].entry
            if raft.log.term(at: entry.index) != entry.term {
                return "leader \(id) of term \(raft.term) lacks committed entry \(entry.index) of term \(entry.term)"
            }
        }
        leaderChecked[id] = (raft.term, committed.count)
        return nil
    }

    /// Forgets a crashed node's in-memory commit index: it restarts from the persisted one.
    mutating func restarted(_ id: String, commit: Int64) { commitIndexes[id] = commit }

    /// Log matching: an entry with the same index and term has the same contents and follows an
    /// entry of the same term, in every log (so the logs are identical up to it).
    mutating func checkAppended(_ id: String, _ raft: RaftNode, _ entries: [RaftEntry]) -> String? {
        guard let first = entries.first, var previousTerm = raft.log.term(at: first.index - 1) else { return nil }
        for entry in entries {
            if let known = identity[entry.index]?[entry.term] {
                if known.entry != entry || known.previousTerm != previousTerm {
                    return "log matching: \(id) has \(entry) after term \(previousTerm), another log has \(known.entry) after term \(known.previousTerm)"
                }
            } else {
                identity[entry.index, default: [:]][entry.term] = (entry, previousTerm)
            }
            previousTerm = entry.term
        }
        return nil
    }

    /// A node applied `entries` (or loaded them from a snapshot) while in `term`: a committed entry
    /// never changes, and every node applies the same entries in the same order.
    mutating func checkCommitted(_ id: String, _ entries: [RaftEntry], term: Int64) -> String? {
        for entry in entries {
            let position = Int(entry.index) - 1
            if position < committed.count {
                if committed[position].entry != entry {
                    return "committed entry \(entry.index) changed: \(committed[position].entry) before, \(entry) at \(id)"
                }
                committed[position].term = min(committed[position].term, term)
            } else if position == committed.count {
                committed.append((entry, term))
            } else {
                return "\(id) applied entry \(entry.index) with only \(committed.count) known committed before it"
            }
        }
        return nil
    }
}
