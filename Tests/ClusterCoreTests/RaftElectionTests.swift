import ClusterCore
import GanglionTestKit
import XCTest

/// The Raft paper's §5.1 (terms) and §5.2 (leader election), one behaviour per test.
final class RaftElectionTests: XCTestCase {
    private let voters = ["n1", "n2", "n3"]

    func testANodeStartsAsAFollowerOfNoOne() {
        let node = makeRaftNode("n1", voters: voters)
        XCTAssertEqual(node.role, .follower)
        XCTAssertNil(node.leader)
        XCTAssertEqual(node.term, 0)
    }

    func testAFollowerSeeingAHigherTermAdoptsItAndFollowsTheSender() {
        var node = makeRaftNode("n1", voters: voters, persisted: raftLog(terms: [], term: 1))
        _ = node.step(raftMessage("n2", "n1", term: 2, .append(RaftAppend(prevIndex: 0, prevTerm: 0, entries: [], commit: 0))))
        XCTAssertEqual(node.term, 2)
        XCTAssertEqual(node.role, .follower)
        XCTAssertEqual(node.leader, "n2")
    }

    func testACandidateSeeingAHigherTermBecomesAFollower() {
        var node = makeRaftNode("n1", voters: voters)
        while node.role != .candidate { _ = node.tick() }
        XCTAssertEqual(node.term, 1)
        _ = node.step(raftMessage("n2", "n1", term: 3, .voteResponse(granted: false)))
        XCTAssertEqual(node.term, 3)
        XCTAssertEqual(node.role, .follower)
        XCTAssertNil(node.votedFor, "a new term clears the vote")
    }

    func testALeaderSeeingAHigherTermStepsDown() {
        var cluster = RaftTestCluster(voters, preVote: false, checkQuorum: false)
        cluster.campaign("n1")
        XCTAssertEqual(cluster.nodes["n1"]!.role, .leader)
        _ = cluster.nodes["n1"]!.step(raftMessage("n2", "n1", term: 5, .appendResponse(RaftAppendResponse(rejected: true, index: 0))))
        XCTAssertEqual(cluster.nodes["n1"]!.role, .follower)
        XCTAssertEqual(cluster.nodes["n1"]!.term, 5)
        XCTAssertThrowsError(try cluster.nodes["n1"]!.propose([1]))
    }

    func testAMessageOfAStaleTermIsNotActedOnAndIsAnsweredWithTheCurrentTerm() {
        var node = makeRaftNode("n1", voters: voters, persisted: raftLog(terms: [1], term: 3))
        let stale = raftMessage("n2", "n1", term: 2, .append(RaftAppend(prevIndex: 1, prevTerm: 1, entries: [RaftEntry(term: 2, index: 2)], commit: 2)))
        let ready = node.step(stale)
        XCTAssertEqual(node.log.lastIndex, 1, "a stale leader's entries are not appended")
        XCTAssertNil(node.leader)
        XCTAssertEqual(node.term, 3)
        XCTAssertEqual(ready.messages.map(\.term), [3], "the stale leader learns the newer term")
        let staleVote = node.step(raftMessage("n2", "n1", term: 2, .vote(lastIndex: 9, lastTerm: 2)))
        XCTAssertFalse(staleVote.messages.contains { $0.kind == .voteResponse(granted: true) })
        XCTAssertNil(node.votedFor)
    }

    func testAFollowerCampaignsAfterItsElectionTimeoutAskingEveryVoter() {
        var node = makeRaftNode("n1", voters: voters, persisted: raftLog(terms: [1, 1], term: 1))
        var messages: [RaftMessage] = []
        for _ in 0..<20 where node.role == .follower { messages = node.tick().messages }
        XCTAssertEqual(node.role, .candidate)
        XCTAssertEqual(node.term, 2)
        XCTAssertEqual(node.votedFor, "n1")
        XCTAssertEqual(Set(messages.map(\.to)), ["n2", "n3"])
        XCTAssertTrue(messages.allSatisfy { $0.term == 2 && $0.kind == .vote(lastIndex: 2, lastTerm: 1) })
    }

    func testElectionTimeoutsAreRandomisedWithinOneToTwoTimeouts() {
        var seen: Set<Int> = []
        for seed in 1...300 as ClosedRange<UInt64> {
            var node = makeRaftNode("n1", voters: voters, seed: seed)
            var ticks = 0
            while node.role == .follower && ticks < 100 { _ = node.tick(); ticks += 1 }
            XCTAssertTrue((10..<20).contains(ticks), "seed \(seed): campaigned after \(ticks) ticks")
            seen.insert(ticks)
        }
        XCTAssertEqual(seen, Set(10..<20), "every timeout in [T, 2T) occurs")
    }

    func testACandidateWinsWithAMajorityAndNotWithLess() {
        let five = ["n1", "n2", "n3", "n4", "n5"]
        let cases: [(granted: [String], refused: [String], role: RaftRole)] = [
            ([], [], .candidate),
            (["n2"], [], .candidate),
            (["n2", "n3"], [], .leader),
            (["n2"], ["n3", "n4"], .candidate),
            (["n2"], ["n3", "n4", "n5"], .follower),
            (["n2", "n3", "n4", "n5"], [], .leader),
        ]
        for (granted, refused, role) in cases {
            var node = makeRaftNode("n1", voters: five)
            while node.role != .candidate { _ = node.tick() }
            for voter in granted { _ = node.step(raftMessage(voter, "n1", term: 1, .voteResponse(granted: true))) }
            for voter in refused { _ = node.step(raftMessage(voter, "n1", term: 1, .voteResponse(granted: false))) }
            XCTAssertEqual(node.role, role, "granted \(granted), refused \(refused)")
        }
    }

    func testAVoterGrantsOneVotePerTermFirstComeFirstServed() {
        var node = makeRaftNode("n1", voters: voters)
        let first = node.step(raftMessage("n2", "n1", term: 1, .vote(lastIndex: 0, lastTerm: 0)))
        XCTAssertEqual(first.messages.map(\.kind), [.voteResponse(granted: true)])
        XCTAssertEqual(first.hardState?.vote, "n2", "the vote is persisted before the answer is sent")
        let second = node.step(raftMessage("n3", "n1", term: 1, .vote(lastIndex: 0, lastTerm: 0)))
        XCTAssertEqual(second.messages.map(\.kind), [.voteResponse(granted: false)])
        let retry = node.step(raftMessage("n2", "n1", term: 1, .vote(lastIndex: 0, lastTerm: 0)))
        XCTAssertEqual(retry.messages.map(\.kind), [.voteResponse(granted: true)], "a retried request gets the same answer")
    }

    func testACandidateFallsBackToFollowerOnAnAppendFromTheLeaderOfItsTerm() {
        var node = makeRaftNode("n1", voters: voters)
        while node.role != .candidate { _ = node.tick() }
        _ = node.step(raftMessage("n2", "n1", term: 1, .append(RaftAppend(prevIndex: 0, prevTerm: 0, entries: [], commit: 0))))
        XCTAssertEqual(node.role, .follower)
        XCTAssertEqual(node.leader, "n2")
        XCTAssertEqual(node.term, 1)
    }

    func testASplitVoteEndsInANewElectionOfTheNextTerm() {
        var node = makeRaftNode("n1", voters: ["n1", "n2", "n3", "n4"])
        while node.role != .candidate { _ = node.tick() }
        _ = node.step(raftMessage("n2", "n1", term: 1, .voteResponse(granted: true)))
        _ = node.step(raftMessage("n3", "n1", term: 1, .voteResponse(granted: false)))
        XCTAssertEqual(node.role, .candidate, "2 of 4 is no majority either way")
        var messages: [RaftMessage] = []
        for _ in 0..<20 where node.term == 1 { messages = node.tick().messages }
        XCTAssertEqual(node.role, .candidate)
        XCTAssertEqual(node.term, 2)
        XCTAssertEqual(Set(messages.map(\.to)), ["n2", "n3", "n4"])
    }

    func testTheLeaderSendsHeartbeatsToEveryFollower() {
        var cluster = RaftTestCluster(voters, preVote: false, checkQuorum: false)
        cluster.campaign("n1")
        let ready = cluster.nodes["n1"]!.tick()
        XCTAssertEqual(Set(ready.messages.map(\.to)), ["n2", "n3"])
        for message in ready.messages {
            guard case .append(let append) = message.kind else { return XCTFail("\(message)") }
            XCTAssertEqual(append.entries, [], "followers are up to date: a heartbeat carries no entries")
            XCTAssertEqual(append.commit, 1)
        }
    }
}
