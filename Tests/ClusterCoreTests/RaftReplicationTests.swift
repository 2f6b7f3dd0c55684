import ClusterCore
import XCTest

/// The Raft paper's §5.3 (log replication), one behaviour per test.
final class RaftReplicationTests: XCTestCase {
    private let voters = ["n1", "n2", "n3"]

    /// A leader of term 1 whose no-op (index 1) is committed everywhere.
    private func electedCluster(_ ids: [String]) -> RaftTestCluster {
        var cluster = RaftTestCluster(ids, preVote: false, checkQuorum: false)
        cluster.campaign("n1")
        XCTAssertEqual(cluster.nodes["n1"]!.role, .leader)
        return cluster
    }

    func testTheLeaderSendsAProposalWithTheIndexAndTermOfTheEntryBeforeIt() throws {
        var cluster = electedCluster(voters)
        let ready = try cluster.nodes["n1"]!.propose([7])
        XCTAssertEqual(ready.entries, [RaftEntry(term: 1, index: 2, data: [7])], "the leader persists its own entry")
        XCTAssertEqual(Set(ready.messages.map(\.to)), ["n2", "n3"])
        for message in ready.messages {
            XCTAssertEqual(message.kind, .append(RaftAppend(prevIndex: 1, prevTerm: 1, entries: [RaftEntry(term: 1, index: 2, data: [7])], commit: 1)))
        }
    }

    func testAnEntryCommitsOnceAMajorityHasIt() throws {
        let five = ["n1", "n2", "n3", "n4", "n5"]
        var cluster = electedCluster(five)
        _ = try cluster.nodes["n1"]!.propose([7])
        let ack = RaftAppendResponse(rejected: false, index: 2)
        let first = cluster.nodes["n1"]!.step(raftMessage("n2", "n1", term: 1, .appendResponse(ack)))
        XCTAssertEqual(cluster.nodes["n1"]!.log.committed, 1, "2 of 5 is no majority")
        XCTAssertEqual(first.committedEntries, [])
        let second = cluster.nodes["n1"]!.step(raftMessage("n3", "n1", term: 1, .appendResponse(ack)))
        XCTAssertEqual(cluster.nodes["n1"]!.log.committed, 2)
        XCTAssertEqual(second.committedEntries.map(\.data), [[7]])
        XCTAssertTrue(second.messages.contains { if case .append(let a) = $0.kind { a.commit == 2 } else { false } },
                      "followers learn the commit index")
    }

    func testCommittingAnEntryCommitsEveryEntryBeforeIt() throws {
        var cluster = electedCluster(voters)
        cluster.isolate("n2")
        cluster.isolate("n3")
        try cluster.propose("n1", [1])
        try cluster.propose("n1", [2])
        XCTAssertEqual(cluster.nodes["n1"]!.log.committed, 1)
        let ready = cluster.nodes["n1"]!.step(raftMessage("n2", "n1", term: 1, .appendResponse(RaftAppendResponse(rejected: false, index: 3))))
        XCTAssertEqual(cluster.nodes["n1"]!.log.committed, 3)
        XCTAssertEqual(ready.committedEntries.map(\.index), [2, 3])
    }

    func testAFollowerCommitsUpToTheLeadersCommitIndexButNotBeyondWhatItHas() {
        var node = makeRaftNode("n2", voters: voters, persisted: raftLog(terms: [], term: 1))
        let entries = [RaftEntry(term: 1, index: 1), RaftEntry(term: 1, index: 2)]
        let ready = node.step(raftMessage("n1", "n2", term: 1, .append(RaftAppend(prevIndex: 0, prevTerm: 0, entries: entries, commit: 5))))
        XCTAssertEqual(node.log.committed, 2)
        XCTAssertEqual(ready.entries, entries)
        XCTAssertEqual(ready.committedEntries, entries)
        XCTAssertEqual(ready.hardState?.commit, 2)
    }

    func testAFollowerRefusesAnAppendWhoseEntryBeforeDoesNotMatch() {
        let cases: [(prevIndex: Int64, prevTerm: Int64, accepted: Bool)] = [
            (2, 2, true), (2, 3, false), (3, 2, false), (1, 1, true), (0, 0, true),
        ]
        for (prevIndex, prevTerm, accepted) in cases {
            var node = makeRaftNode("n2", voters: voters, persisted: raftLog(terms: [1, 2], term: 3))
            let ready = node.step(raftMessage("n1", "n2", term: 3, .append(RaftAppend(prevIndex: prevIndex, prevTerm: prevTerm, entries: [], commit: 0))))
            guard case .appendResponse(let response) = ready.messages.first?.kind else { return XCTFail() }
            XCTAssertEqual(!response.rejected, accepted, "prev \(prevIndex)/\(prevTerm)")
            if !accepted { XCTAssertEqual(response.index, prevIndex) }
            XCTAssertEqual(node.log.lastIndex, 2)
        }
    }

    func testAFollowerReplacesAConflictingSuffixAndKeepsWhatMatches() {
        var node = makeRaftNode("n2", voters: voters, persisted: raftLog(terms: [1, 2, 2], term: 3))
        let ready = node.step(raftMessage("n1", "n2", term: 3, .append(RaftAppend(prevIndex: 1, prevTerm: 1, entries: [RaftEntry(term: 3, index: 2)], commit: 0))))
        XCTAssertEqual(node.log.entries.map(\.term), [1, 3])
        XCTAssertEqual(ready.entries, [RaftEntry(term: 3, index: 2)], "persisting from index 2 replaces the stored suffix")
        // A duplicate of an older append does not truncate what has since been appended.
        var caughtUp = makeRaftNode("n2", voters: voters, persisted: raftLog(terms: [1, 1, 1], term: 1))
        let duplicate = caughtUp.step(raftMessage("n1", "n2", term: 1, .append(RaftAppend(prevIndex: 0, prevTerm: 0, entries: [RaftEntry(term: 1, index: 1, data: [0])], commit: 0))))
        XCTAssertEqual(caughtUp.log.lastIndex, 3)
        XCTAssertEqual(duplicate.entries, [])
    }

    /// Figure 7: whatever a follower's log, the leader of term 8 finds where they match and the
    /// follower ends with exactly the leader's log.
    func testTheLeaderRepairsEveryFollowerLogOfFigure7() {
        let leaderLog: [Int64] = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
        let followers: [String: [Int64]] = [
            "a": [1, 1, 1, 4, 4, 5, 5, 6, 6],
            "b": [1, 1, 1, 4],
            "c": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
            "d": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
            "e": [1, 1, 1, 4, 4, 4, 4],
            "f": [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
        ]
        for (name, followerLog) in followers.sorted(by: { $0.key < $1.key }) {
            var cluster = RaftTestCluster(["n1", "n2", "n3"], preVote: false, checkQuorum: false, persisted: [
                "n1": raftLog(terms: leaderLog, term: 7),
                "n2": raftLog(terms: followerLog, term: 7),
            ])
            cluster.isolate("n3")
            // n3 is a black hole that voted for n1, as in etcd's tests: n1 leads term 8.
            cluster.campaign("n1")
            cluster.deliver(cluster.nodes["n1"]!.step(raftMessage("n3", "n1", term: 8, .voteResponse(granted: true))).messages)
            XCTAssertEqual(cluster.nodes["n1"]!.role, .leader, name)
            cluster.tickAll(3)
            XCTAssertEqual(cluster.terms("n2"), leaderLog + [8], "follower \(name)")
            XCTAssertEqual(cluster.nodes["n2"]!.log.entries, cluster.nodes["n1"]!.log.entries, "follower \(name)")
            XCTAssertEqual(cluster.nodes["n1"]!.log.committed, 11, "follower \(name)")
        }
    }
}
