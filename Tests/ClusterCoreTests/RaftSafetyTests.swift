import ClusterCore
import XCTest

/// The Raft paper's §5.4 (safety), one behaviour per test.
final class RaftSafetyTests: XCTestCase {
    private let voters = ["n1", "n2", "n3"]

    func testAVoteIsDeniedToACandidateWhoseLogIsLessUpToDate() {
        let cases: [(voterLog: [Int64], lastIndex: Int64, lastTerm: Int64, granted: Bool)] = [
            ([1, 1], 1, 1, false),  // same last term, shorter
            ([1, 1], 2, 1, true),   // same
            ([1, 1], 3, 1, true),   // same last term, longer
            ([1, 2], 3, 1, false),  // older last term, however long
            ([1, 2], 1, 3, true),   // newer last term, however short
            ([1, 2], 2, 2, true),
            ([1, 2], 1, 2, false),
        ]
        for (voterLog, lastIndex, lastTerm, granted) in cases {
            var node = makeRaftNode("n1", voters: voters, persisted: raftLog(terms: voterLog, term: 3))
            let ready = node.step(raftMessage("n2", "n1", term: 4, .vote(lastIndex: lastIndex, lastTerm: lastTerm)))
            XCTAssertEqual(ready.messages.map(\.kind), [.voteResponse(granted: granted)], "voter \(voterLog), candidate \(lastIndex)/\(lastTerm)")
            XCTAssertEqual(node.votedFor, granted ? "n2" : nil)
        }
    }

    /// Figure 8: an entry of an earlier term on a majority is not committed by counting replicas;
    /// it commits only when an entry of the leader's own term does.
    func testEntriesOfEarlierTermsCommitOnlyThroughAnEntryOfTheCurrentTerm() {
        var cluster = RaftTestCluster(voters, preVote: false, checkQuorum: false, persisted: [
            "n1": raftLog(terms: [1, 2], term: 2, commit: 1),
            "n2": raftLog(terms: [1], term: 2, commit: 1),
            "n3": raftLog(terms: [1], term: 2, commit: 1),
        ])
        cluster.isolate("n1")
        cluster.campaign("n1")
        _ = cluster.nodes["n1"]!.step(raftMessage("n3", "n1", term: 3, .voteResponse(granted: true)))
        XCTAssertEqual(cluster.nodes["n1"]!.role, .leader)
        XCTAssertEqual(cluster.terms("n1"), [1, 2, 3], "the new leader's no-op")
        // n2 now holds index 2 (term 2): a majority, but of an earlier term.
        _ = cluster.nodes["n1"]!.step(raftMessage("n2", "n1", term: 3, .appendResponse(RaftAppendResponse(rejected: false, index: 2))))
        XCTAssertEqual(cluster.nodes["n1"]!.log.committed, 1, "an earlier term's entry is not committed by counting replicas")
        let ready = cluster.nodes["n1"]!.step(raftMessage("n2", "n1", term: 3, .appendResponse(RaftAppendResponse(rejected: false, index: 3))))
        XCTAssertEqual(cluster.nodes["n1"]!.log.committed, 3)
        XCTAssertEqual(ready.committedEntries.map(\.term), [2, 3])
    }

    func testAFollowerNeverDropsACommittedEntryForAStaleDuplicate() {
        var node = makeRaftNode("n2", voters: voters, persisted: raftLog(terms: [1, 1, 1], term: 1, commit: 3))
        let ready = node.step(raftMessage("n1", "n2", term: 1, .append(RaftAppend(prevIndex: 1, prevTerm: 1, entries: [], commit: 1))))
        XCTAssertEqual(ready.messages.map(\.kind), [.appendResponse(RaftAppendResponse(rejected: false, index: 3))])
        XCTAssertEqual(node.log.committed, 3)
    }

    func testAProposalToAFollowerIsRefusedWithTheLeaderItKnows() {
        var cluster = RaftTestCluster(voters)
        cluster.campaign("n1")
        XCTAssertThrowsError(try cluster.nodes["n2"]!.propose([1])) { error in
            XCTAssertEqual((error as? RaftError)?.code, .notLeader)
            XCTAssertEqual((error as? RaftError)?.leader, "n1")
        }
    }

    func testARestartedNodeKeepsItsTermVoteAndLog() throws {
        var node = makeRaftNode("n1", voters: voters)
        var persisted = RaftPersistentState()
        let ready = node.step(raftMessage("n2", "n1", term: 4, .vote(lastIndex: 0, lastTerm: 0)))
        persisted.hardState = try XCTUnwrap(ready.hardState)
        var restarted = makeRaftNode("n1", voters: voters, persisted: persisted)
        XCTAssertEqual(restarted.term, 4)
        XCTAssertEqual(restarted.votedFor, "n2")
        let other = restarted.step(raftMessage("n3", "n1", term: 4, .vote(lastIndex: 0, lastTerm: 0)))
        XCTAssertEqual(other.messages.map(\.kind), [.voteResponse(granted: false)], "no second vote in term 4 after a restart")
    }
}
