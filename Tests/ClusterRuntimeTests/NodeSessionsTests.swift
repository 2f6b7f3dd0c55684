import ClusterCore
import Foundation
import XCTest
@testable import ClusterRuntime

/// The controller leader's sessions, on a virtual clock: who is fenced when, and the grace a new
/// leader gives every node.
final class NodeSessionsTests: XCTestCase {
    private func state(_ nodes: [ClusterNode]) -> MetadataState {
        var state = MetadataState()
        for node in nodes { state.apply(.nodeRegistered(node)) }
        return state
    }

    private func node(_ id: String, incarnation: UInt64 = 1) -> ClusterNode {
        ClusterNode(id: id, incarnation: incarnation, voter: false, api: "tcp://\(id):7400", pub: "tcp://\(id):7401", http: "")
    }

    func testANodeSilentForLongerThanTheTimeoutExpiresAndAHeartbeatingOneDoesNot() {
        let sessions = NodeSessions()
        let start = ContinuousClock.now
        let metadata = state([node("a"), node("b")])
        XCTAssertEqual(sessions.expired(in: metadata, term: 1, timeout: .seconds(6), now: start), [])
        sessions.heard("a", incarnation: 1, at: start + .seconds(5))
        XCTAssertEqual(sessions.expired(in: metadata, term: 1, timeout: .seconds(6), now: start + .seconds(5.9)).map(\.id), [])
        XCTAssertEqual(sessions.expired(in: metadata, term: 1, timeout: .seconds(6), now: start + .seconds(6.1)).map(\.id), ["b"])
        XCTAssertEqual(sessions.expired(in: metadata, term: 1, timeout: .seconds(6), now: start + .seconds(11.1)).map(\.id), ["a", "b"])
    }

    func testANewLeaderGivesEveryNodeAFullSessionFromWhenItTookOver() {
        let sessions = NodeSessions()
        let start = ContinuousClock.now
        let metadata = state([node("a")])
        _ = sessions.expired(in: metadata, term: 1, timeout: .seconds(6), now: start)
        // Term 2 begins 10 s later: a's silence under the old leader does not count.
        XCTAssertEqual(sessions.expired(in: metadata, term: 2, timeout: .seconds(6), now: start + .seconds(10)), [])
        XCTAssertEqual(sessions.expired(in: metadata, term: 2, timeout: .seconds(6), now: start + .seconds(15)), [])
        XCTAssertEqual(sessions.expired(in: metadata, term: 2, timeout: .seconds(6), now: start + .seconds(16.5)).map(\.id), ["a"])
    }

    func testOnlyLiveNodesExpireAndAHeartbeatOfAnotherIncarnationDoesNotKeepTheOldOneAlive() {
        let sessions = NodeSessions()
        let start = ContinuousClock.now
        var metadata = state([node("a"), node("b")])
        metadata.apply(.nodeShutdown(id: "b", incarnation: 1))
        _ = sessions.expired(in: metadata, term: 1, timeout: .seconds(6), now: start)
        sessions.heard("a", incarnation: 2, at: start + .seconds(5))
        let expired = sessions.expired(in: metadata, term: 1, timeout: .seconds(6), now: start + .seconds(7))
        XCTAssertEqual(expired.map(\.id), [], "the heartbeat of incarnation 2 restarts a's clock until it registers")
        XCTAssertFalse(expired.contains { $0.id == "b" }, "a node that left is never fenced")
    }

    func testANewLeaderGivesThePreviousLeaderOnlyAShortGrace() {
        // b led; a quorum elected c. b's partitions should not wait a whole session more: b gets
        // the grace (alive, it would heartbeat to c within it); everyone else a full session.
        let sessions = NodeSessions()
        let start = ContinuousClock.now
        let metadata = state([node("a"), node("b"), node("c")])
        sessions.noteLeader("b")
        _ = sessions.expired(in: metadata, term: 1, timeout: .seconds(6), now: start)
        sessions.noteLeader("c")
        XCTAssertEqual(sessions.expired(in: metadata, term: 2, timeout: .seconds(6), now: start + .seconds(1), previousLeaderGrace: .milliseconds(900)), [])
        XCTAssertEqual(sessions.expired(in: metadata, term: 2, timeout: .seconds(6), now: start + .seconds(2), previousLeaderGrace: .milliseconds(900)).map(\.id), ["b"])
        // Alive after all: its heartbeat keeps it.
        let other = NodeSessions()
        other.noteLeader("b")
        _ = other.expired(in: metadata, term: 1, timeout: .seconds(6), now: start)
        other.noteLeader("c")
        _ = other.expired(in: metadata, term: 2, timeout: .seconds(6), now: start + .seconds(1), previousLeaderGrace: .milliseconds(900))
        other.heard("b", incarnation: 1, at: start + .seconds(1.5))
        XCTAssertEqual(other.expired(in: metadata, term: 2, timeout: .seconds(6), now: start + .seconds(5), previousLeaderGrace: .milliseconds(900)), [])
    }
}
