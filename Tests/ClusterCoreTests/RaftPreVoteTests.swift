import ClusterCore
import XCTest

/// Pre-vote and check-quorum (Raft thesis §9.6, §6.2): a node that was cut off cannot disrupt a
/// working leader when it returns, and a leader cut off from a majority steps down.
final class RaftPreVoteTests: XCTestCase {
    private let voters = ["n1", "n2", "n3"]

    /// n3 is cut off for many election timeouts, then returns; returns whether n1 still leads term 1.
    private func rejoin(preVote: Bool, checkQuorum: Bool) -> (leaderKept: Bool, rejoinedTerm: Int64) {
        var cluster = RaftTestCluster(voters, preVote: preVote, checkQuorum: checkQuorum)
        cluster.campaign("n1")
        XCTAssertEqual(cluster.nodes["n1"]!.role, .leader)
        cluster.isolate("n3")
        for _ in 0..<100 { cluster.tick("n1"); cluster.tick("n2"); cluster.tick("n3") }
        let cutOffTerm = cluster.nodes["n3"]!.term
        cluster.heal()
        cluster.tickAll(50)
        return (cluster.nodes["n1"]!.role == .leader && cluster.nodes["n1"]!.term == 1, cutOffTerm)
    }

    func testARejoiningNodeDoesNotDisruptTheLeaderWithPreVote() {
        let outcome = rejoin(preVote: true, checkQuorum: true)
        XCTAssertEqual(outcome.rejoinedTerm, 1, "pre-votes never raise the cut-off node's term")
        XCTAssertTrue(outcome.leaderKept)
    }

    func testWithoutPreVoteARejoiningNodeDisruptsTheLeader() {
        let outcome = rejoin(preVote: false, checkQuorum: false)
        XCTAssertGreaterThan(outcome.rejoinedTerm, 1)
        XCTAssertFalse(outcome.leaderKept, "the control case: the behaviour pre-vote prevents")
    }

    func testAVoterThatHearsFromTheLeaderIgnoresVoteRequestsWithCheckQuorum() {
        var cluster = RaftTestCluster(voters)
        cluster.campaign("n1")
        let ready = cluster.nodes["n2"]!.step(raftMessage("n3", "n2", term: 5, .vote(lastIndex: 9, lastTerm: 4)))
        XCTAssertEqual(ready.messages, [])
        XCTAssertEqual(cluster.nodes["n2"]!.term, 1)
        XCTAssertEqual(cluster.nodes["n2"]!.leader, "n1")
    }

    func testAnIsolatedLeaderStepsDownWithinAnElectionTimeout() {
        var cluster = RaftTestCluster(voters)
        cluster.campaign("n1")
        cluster.isolate("n1")
        for _ in 0..<20 { cluster.tick("n1") }
        XCTAssertEqual(cluster.nodes["n1"]!.role, .follower)
        XCTAssertEqual(cluster.nodes["n1"]!.term, 1)
        XCTAssertThrowsError(try cluster.nodes["n1"]!.propose([1]), "a deposed leader takes no proposals")
        // Meanwhile the others elect a leader of a later term.
        for _ in 0..<40 { cluster.tick("n2"); cluster.tick("n3") }
        XCTAssertTrue(cluster.nodes.values.contains { $0.role == .leader && $0.term == 2 && $0.id != "n1" })
    }

    func testALeaderThatHearsFromAMajorityKeepsLeading() {
        var cluster = RaftTestCluster(voters)
        cluster.campaign("n1")
        cluster.isolate("n3")
        for _ in 0..<50 { cluster.tick("n1"); cluster.tick("n2") }
        XCTAssertEqual(cluster.nodes["n1"]!.role, .leader)
        XCTAssertEqual(cluster.nodes["n1"]!.term, 1)
    }

    func testAPreCandidateDoesNotRaiseItsTermWithoutAMajority() {
        var cluster = RaftTestCluster(voters)
        cluster.isolate("n1")
        cluster.campaign("n1")
        XCTAssertEqual(cluster.nodes["n1"]!.role, .preCandidate)
        XCTAssertEqual(cluster.nodes["n1"]!.term, 0)
        cluster.heal()
        cluster.tickAll(1)
        cluster.campaign("n1")
        XCTAssertTrue(cluster.nodes.values.contains { $0.role == .leader })
    }
}
