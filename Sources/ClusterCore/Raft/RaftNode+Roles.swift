extension RaftNode {
    /// Becomes a follower of `leader` (if known) in `term`; a higher term clears the vote.
    mutating func becomeFollower(term newTerm: Int64, leader newLeader: String?) {
        if newTerm > term {
            term = newTerm
            votedFor = nil
        }
        role = .follower
        leader = newLeader
        electionElapsed = 0
        resetElectionTimeout()
    }

    /// Starts an election: first a pre-vote round when enabled, else a real one.
    mutating func campaign() {
        if configuration.preVote { becomePreCandidate() } else { becomeCandidate() }
    }

    /// Asks for pre-votes for `term + 1` without raising the term.
    mutating func becomePreCandidate() {
        guard startCampaign(as: .preCandidate) else { return }
        for peer in peers {
            send(to: peer, term: term + 1, .preVote(lastIndex: log.lastIndex, lastTerm: log.lastTerm))
        }
    }

    /// Takes `role` with only its own vote and a fresh election timeout; false when that vote
    /// alone decided the election (a single voter), so there is no one to ask.
    private mutating func startCampaign(as role: RaftRole) -> Bool {
        self.role = role
        leader = nil
        votes = [id: true]
        electionElapsed = 0
        resetElectionTimeout()
        return !countVotes()
    }

    /// Raises the term, votes for itself and asks the others (Raft §5.2).
    mutating func becomeCandidate() {
        term += 1
        votedFor = id
        guard startCampaign(as: .candidate) else { return }
        for peer in peers {
            send(to: peer, .vote(lastIndex: log.lastIndex, lastTerm: log.lastTerm))
        }
    }

    /// Takes the lead of the term: every follower is probed from the end of the log, and an empty
    /// entry of the new term lets earlier terms' entries commit (Raft §5.4.2).
    mutating func becomeLeader() {
        role = .leader
        leader = id
        heartbeatElapsed = 0
        electionElapsed = 0
        progress = Dictionary(uniqueKeysWithValues: peers.map { ($0, RaftProgress(next: log.lastIndex + 1)) })
        appendAsLeader(kind: .leaderNoop, data: [])
    }

    /// Records a vote (the first answer of each voter counts) and acts on the outcome; returns
    /// whether the round is decided.
    @discardableResult
    mutating func countVotes(from voter: String? = nil, granted: Bool = true) -> Bool {
        if let voter, votes[voter] == nil { votes[voter] = granted }
        let yes = votes.values.filter { $0 }.count
        if yes >= quorum {
            if role == .preCandidate { becomeCandidate() } else { becomeLeader() }
            return true
        }
        if votes.count - yes >= quorum {
            becomeFollower(term: term, leader: nil)
            return true
        }
        return false
    }

    /// A leader's tick: heartbeats every `heartbeatTicks`, and every election timeout a check
    /// that a majority answered since the last one, else it steps down (check-quorum).
    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= configuration.electionTicks {
            electionElapsed = 0
            if configuration.checkQuorum {
                let active = 1 + progress.values.filter(\.recentlyActive).count
                for peer in progress.keys { progress[peer]?.recentlyActive = false }
                if active < quorum {
                    becomeFollower(term: term, leader: nil)
                    return
                }
            }
        }
        if heartbeatElapsed >= configuration.heartbeatTicks {
            heartbeatElapsed = 0
            broadcastAppend()
        }
    }
}
