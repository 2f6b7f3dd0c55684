extension RaftNode {
    /// Handles one message: first by its term (Raft §5.1), then by its kind.
    mutating func handle(_ message: RaftMessage) {
        guard message.to == id, message.from != id, configuration.voters.contains(message.from) else { return }
        if message.term > term {
            guard handleHigherTerm(message) else { return }
        } else if message.term < term {
            handleStaleTerm(message)
            return
        }
        switch message.kind {
        case .preVote(let lastIndex, let lastTerm):
            handleVoteRequest(message, lastIndex: lastIndex, lastTerm: lastTerm, preVote: true)
        case .vote(let lastIndex, let lastTerm):
            handleVoteRequest(message, lastIndex: lastIndex, lastTerm: lastTerm, preVote: false)
        case .preVoteResponse(let granted):
            if role == .preCandidate { countVotes(from: message.from, granted: granted) }
        case .voteResponse(let granted):
            if role == .candidate { countVotes(from: message.from, granted: granted) }
        case .append(let append):
            guard followLeader(message.from) else { return }
            handleAppend(from: message.from, append)
        case .installSnapshot(let snapshot):
            guard followLeader(message.from) else { return }
            handleSnapshot(from: message.from, snapshot)
        case .appendResponse(let response):
            if role == .leader { handleAppendResponse(from: message.from, response) }
        }
    }

    /// A message from a higher term: the node follows that term, except for vote requests that
    /// arrive while a leader is known to be alive (check-quorum's lease), pre-votes and granted
    /// pre-vote answers, which do not change anyone's term. Returns whether to go on handling it.
    private mutating func handleHigherTerm(_ message: RaftMessage) -> Bool {
        switch message.kind {
        case .preVote, .vote:
            let inLease = configuration.checkQuorum && leader != nil && electionElapsed < configuration.electionTicks
            if inLease { return false }
        default:
            break
        }
        switch message.kind {
        case .preVote, .preVoteResponse(granted: true):
            return true
        case .append, .installSnapshot:
            becomeFollower(term: message.term, leader: message.from)
        default:
            becomeFollower(term: message.term, leader: nil)
        }
        return true
    }

    /// A message from an earlier term is not acted on (Raft §5.1). A stale leader's append is
    /// refused with this node's term so that it steps down (with pre-vote it could not otherwise
    /// learn of the new term); a pre-vote is refused the same way.
    private mutating func handleStaleTerm(_ message: RaftMessage) {
        switch message.kind {
        case .append, .installSnapshot:
            send(to: message.from, .appendResponse(RaftAppendResponse(rejected: true, index: 0)))
        case .preVote:
            send(to: message.from, .preVoteResponse(granted: false))
        default:
            break
        }
    }

    /// A leader of the current term has spoken: candidates give up, followers note it. Returns
    /// false for the impossible case of another leader in this node's own term as leader.
    private mutating func followLeader(_ sender: String) -> Bool {
        guard role != .leader else { return false }
        if role != .follower || leader != sender {
            becomeFollower(term: term, leader: sender)
        }
        electionElapsed = 0
        return true
    }

    /// Grants a (pre-)vote to a candidate whose log is at least as up to date (Raft §5.4.1) if this
    /// node has not voted for another in the term (§5.2); a pre-vote is granted for a later term
    /// regardless of this node's vote, since it changes nothing.
    private mutating func handleVoteRequest(_ message: RaftMessage, lastIndex: Int64, lastTerm: Int64, preVote: Bool) {
        let canVote = votedFor == message.from
            || (votedFor == nil && leader == nil)
            || (preVote && message.term > term)
        if canVote && log.isUpToDate(lastIndex: lastIndex, lastTerm: lastTerm) {
            send(to: message.from, term: message.term, preVote ? .preVoteResponse(granted: true) : .voteResponse(granted: true))
            if !preVote {
                votedFor = message.from
                electionElapsed = 0
            }
        } else {
            send(to: message.from, preVote ? .preVoteResponse(granted: false) : .voteResponse(granted: false))
        }
    }
}
