import ClusterCore
import Foundation
import GanglionWire

/// Raft messages as they travel between voters (`RaftMessage` of cluster.proto, in a RAFT request).
enum RaftWire {
    /// The protobuf form of `message`.
    static func encode(_ message: RaftMessage) -> Ganglion_V1_RaftMessage {
        var wire = Ganglion_V1_RaftMessage()
        wire.from = message.from
        wire.to = message.to
        wire.term = message.term
        switch message.kind {
        case .preVote(let lastIndex, let lastTerm): wire.preVote = voteRequest(lastIndex, lastTerm)
        case .preVoteResponse(let granted): wire.preVoteResponse = voteResponse(granted)
        case .vote(let lastIndex, let lastTerm): wire.vote = voteRequest(lastIndex, lastTerm)
        case .voteResponse(let granted): wire.voteResponse = voteResponse(granted)
        case .append(let append):
            var body = Ganglion_V1_RaftAppendRequest()
            body.prevIndex = append.prevIndex
            body.prevTerm = append.prevTerm
            body.commit = append.commit
            body.entries = append.entries.map(entry)
            wire.append = body
        case .appendResponse(let response):
            var body = Ganglion_V1_RaftAppendResponseData()
            body.rejected = response.rejected
            body.index = response.index
            body.hint = response.hint
            wire.appendResponse = body
        case .installSnapshot(let snapshot):
            var body = Ganglion_V1_RaftSnapshotData()
            body.index = snapshot.index
            body.term = snapshot.term
            body.voters = snapshot.voters
            body.data = Data(snapshot.data)
            wire.installSnapshot = body
        }
        return wire
    }

    /// The message `wire` carries; throws naming what is missing or wrong.
    static func decode(_ wire: Ganglion_V1_RaftMessage) throws -> RaftMessage {
        guard !wire.from.isEmpty, !wire.to.isEmpty else { throw ProtocolFailure(.malformedRequest, "a Raft message needs its sender and receiver") }
        let kind: RaftMessage.Kind
        switch wire.kind {
        case .preVote(let body)?: kind = .preVote(lastIndex: body.lastIndex, lastTerm: body.lastTerm)
        case .preVoteResponse(let body)?: kind = .preVoteResponse(granted: body.granted)
        case .vote(let body)?: kind = .vote(lastIndex: body.lastIndex, lastTerm: body.lastTerm)
        case .voteResponse(let body)?: kind = .voteResponse(granted: body.granted)
        case .append(let body)?:
            var expected = body.prevIndex + 1
            var entries: [RaftEntry] = []
            for item in body.entries {
                guard item.index == expected, let entryKind = RaftEntry.Kind(rawValue: UInt8(clamping: item.kind)), item.kind <= UInt8.max else {
                    throw ProtocolFailure(.malformedRequest, "Raft append from \(wire.from): entry \(item.index) (kind \(item.kind)) where entry \(expected) belongs")
                }
                entries.append(RaftEntry(term: item.term, index: item.index, kind: entryKind, data: Array(item.data)))
                expected += 1
            }
            kind = .append(RaftAppend(prevIndex: body.prevIndex, prevTerm: body.prevTerm, entries: entries, commit: body.commit))
        case .appendResponse(let body)?:
            kind = .appendResponse(RaftAppendResponse(rejected: body.rejected, index: body.index, hint: body.hint))
        case .installSnapshot(let body)?:
            kind = .installSnapshot(RaftSnapshot(index: body.index, term: body.term, voters: body.voters, data: Array(body.data)))
        case nil:
            throw ProtocolFailure(.malformedRequest, "a Raft message from \(wire.from) carries no kind")
        }
        return RaftMessage(from: wire.from, to: wire.to, term: wire.term, kind: kind)
    }

    private static func voteRequest(_ lastIndex: Int64, _ lastTerm: Int64) -> Ganglion_V1_RaftVoteRequest {
        var body = Ganglion_V1_RaftVoteRequest()
        body.lastIndex = lastIndex
        body.lastTerm = lastTerm
        return body
    }

    private static func voteResponse(_ granted: Bool) -> Ganglion_V1_RaftVoteResponse {
        var body = Ganglion_V1_RaftVoteResponse()
        body.granted = granted
        return body
    }

    private static func entry(_ entry: RaftEntry) -> Ganglion_V1_RaftLogEntry {
        var wire = Ganglion_V1_RaftLogEntry()
        wire.term = entry.term
        wire.index = entry.index
        wire.kind = UInt32(entry.kind.rawValue)
        wire.data = Data(entry.data)
        return wire
    }
}
