extension RaftNode {
    /// Appends a new entry of the current term to the leader's log and sends it out.
    mutating func appendAsLeader(kind: RaftEntry.Kind, data: [UInt8]) {
        _ = log.appendNew(term: term, kind: kind, data: data)
        if !maybeCommit() { broadcastAppend() }
    }

    /// Sends every follower what it lacks (or a heartbeat).
    mutating func broadcastAppend() {
        for peer in peers { sendAppend(to: peer) }
    }

    /// Sends `peer` the entries from its next index, with the index and term of the entry before
    /// them (Raft §5.3); when those are compacted away, the snapshot instead.
    mutating func sendAppend(to peer: String) {
        guard let next = progress[peer]?.next else { return }
        guard let prevTerm = log.term(at: next - 1) else {
            if let snapshot = log.snapshot { send(to: peer, .installSnapshot(snapshot)) }
            return
        }
        let entries = log.entries(from: next, limit: configuration.maxEntriesPerAppend)
        send(to: peer, .append(RaftAppend(prevIndex: next - 1, prevTerm: prevTerm, entries: entries, commit: log.committed)))
    }

    /// Commits the highest index a majority holds, if its entry is of the current term: entries
    /// of earlier terms commit only through it (Raft §5.4.2, figure 8). Broadcasts on progress.
    @discardableResult
    mutating func maybeCommit() -> Bool {
        let matches = (progress.values.map(\.match) + [log.lastIndex]).sorted(by: >)
        let candidate = matches[quorum - 1]
        guard candidate > log.committed, log.term(at: candidate) == term else { return false }
        log.commit(to: candidate)
        broadcastAppend()
        return true
    }

    /// A follower's append: accepted when its log matches at `prevIndex`, conflicting entries
    /// replaced; refused with a hint of where the logs may match.
    mutating func handleAppend(from leader: String, _ append: RaftAppend) {
        if append.prevIndex < log.committed {
            send(to: leader, .appendResponse(RaftAppendResponse(rejected: false, index: log.committed)))
            return
        }
        if let lastNew = log.append(after: append.prevIndex, prevTerm: append.prevTerm, append.entries) {
            log.commit(to: min(append.commit, lastNew))
            send(to: leader, .appendResponse(RaftAppendResponse(rejected: false, index: lastNew)))
        } else {
            let hint = log.conflictHint(prevIndex: append.prevIndex, prevTerm: append.prevTerm)
            send(to: leader, .appendResponse(RaftAppendResponse(rejected: true, index: append.prevIndex, hint: hint)))
        }
    }

    /// A follower's snapshot from the leader: ignored when already committed that far, used to
    /// commit when the log already has its last entry, else it replaces the whole log.
    mutating func handleSnapshot(from leader: String, _ snapshot: RaftSnapshot) {
        if snapshot.index <= log.committed {
            send(to: leader, .appendResponse(RaftAppendResponse(rejected: false, index: log.committed)))
            return
        }
        if log.term(at: snapshot.index) == snapshot.term {
            log.commit(to: snapshot.index)
        } else {
            log.restore(snapshot)
        }
        send(to: leader, .appendResponse(RaftAppendResponse(rejected: false, index: snapshot.index)))
    }

    /// The leader learns how far a follower's log matches, commits what a majority holds, and
    /// sends the follower what it still lacks; after a refusal it probes further back.
    mutating func handleAppendResponse(from peer: String, _ response: RaftAppendResponse) {
        guard var follower = progress[peer] else { return }
        follower.recentlyActive = true
        if response.rejected {
            // A refusal of anything but the latest probe is stale.
            guard response.index == follower.next - 1 else {
                progress[peer] = follower
                return
            }
            follower.next = max(follower.match + 1, min(follower.next - 1, response.hint + 1))
            progress[peer] = follower
            sendAppend(to: peer)
            return
        }
        follower.match = max(follower.match, response.index)
        follower.next = max(follower.next, response.index + 1)
        progress[peer] = follower
        if !maybeCommit() && follower.next <= log.lastIndex {
            sendAppend(to: peer)
        }
    }
}
