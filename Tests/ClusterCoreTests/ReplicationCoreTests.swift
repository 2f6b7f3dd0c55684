import ClusterCore
import XCTest

/// The pure decisions of partition replication: placement, leader election from the ISR, the
/// high watermark and ISR changes a leader derives from its followers' fetches.
final class ReplicationCoreTests: XCTestCase {
    func testPlacementSpreadsReplicasAndLeadersEvenlyAndNeedsEnoughNodes() throws {
        let placement = try ReplicaPlacement.place(partitions: 12, replicationFactor: 3, nodes: ["c", "a", "b", "d"])
        XCTAssertEqual(placement.count, 12)
        for replicas in placement { XCTAssertEqual(Set(replicas).count, 3) }
        var replicas: [String: Int] = [:], leaders: [String: Int] = [:]
        for partition in placement {
            leaders[partition[0], default: 0] += 1
            for node in partition { replicas[node, default: 0] += 1 }
        }
        XCTAssertEqual(leaders, ["a": 3, "b": 3, "c": 3, "d": 3])
        XCTAssertEqual(replicas, ["a": 9, "b": 9, "c": 9, "d": 9])
        XCTAssertEqual(try ReplicaPlacement.place(partitions: 12, replicationFactor: 3, nodes: ["c", "a", "b", "d"]), placement, "deterministic")
        XCTAssertThrowsError(try ReplicaPlacement.place(partitions: 1, replicationFactor: 3, nodes: ["a", "b"])) { error in
            XCTAssertTrue("\(error)".contains("needs 3 live nodes"), "\(error)")
        }
        // Load already placed is counted: a new topic's leaders go to the least loaded nodes.
        let next = try ReplicaPlacement.place(partitions: 1, replicationFactor: 1, nodes: ["a", "b"], load: ["a": (5, 5)])
        XCTAssertEqual(next, [["b"]])
    }

    func testALeaderThatLeavesIsReplacedFromTheISRWithANewEpoch() {
        let state = PartitionState(leader: "a", replicas: ["a", "b", "c"], isr: ["a", "b", "c"], leaderEpoch: 4, partitionEpoch: 9)
        let changes = PartitionLeadership.afterNodeLeft("a", partitions: ["t": [state]], alive: ["b", "c"])
        XCTAssertEqual(changes, [PartitionChange(topic: "t", partition: 0,
                                                 state: PartitionState(leader: "b", replicas: ["a", "b", "c"], isr: ["b", "c"], leaderEpoch: 5, partitionEpoch: 10))])
        XCTAssertNoThrow(try state.checkSuccessor(changes[0].state))
    }

    func testNoUncleanElectionTheLastInSyncReplicaKeepsThePartitionUntilItReturns() {
        let state = PartitionState(leader: "a", replicas: ["a", "b", "c"], isr: ["a"], leaderEpoch: 1, partitionEpoch: 3)
        let left = PartitionLeadership.afterNodeLeft("a", partitions: ["t": [state]], alive: ["b", "c"])
        XCTAssertEqual(left.map(\.state.leader), [nil], "b and c are out of sync: nobody may lead")
        XCTAssertEqual(left.map(\.state.isr), [["a"]])
        let offline = left[0].state
        XCTAssertEqual(PartitionLeadership.afterNodeReturned("b", partitions: ["t": [offline]]), [])
        let back = PartitionLeadership.afterNodeReturned("a", partitions: ["t": [offline]])
        XCTAssertEqual(back.map(\.state.leader), ["a"])
        XCTAssertEqual(back.map(\.state.leaderEpoch), [3])
    }

    func testAFollowerThatLeavesOnlyLeavesTheISR() {
        let state = PartitionState(leader: "a", replicas: ["a", "b", "c"], isr: ["a", "b", "c"], leaderEpoch: 1, partitionEpoch: 1)
        let changes = PartitionLeadership.afterNodeLeft("c", partitions: ["t": [state]], alive: ["a", "b"])
        XCTAssertEqual(changes.map(\.state), [PartitionState(leader: "a", replicas: ["a", "b", "c"], isr: ["a", "b"], leaderEpoch: 1, partitionEpoch: 2)])
    }

    func testPreferredLeadershipReturnsOnceThePreferredReplicaIsInSync() {
        let state = PartitionState(leader: "b", replicas: ["a", "b"], isr: ["b"], leaderEpoch: 2, partitionEpoch: 5)
        XCTAssertEqual(PartitionLeadership.preferredLeaders(partitions: ["t": [state]], alive: ["a", "b"]), [])
        var synced = state
        synced.isr = ["a", "b"]
        XCTAssertEqual(PartitionLeadership.preferredLeaders(partitions: ["t": [synced]], alive: ["a", "b"]).map(\.state.leader), ["a"])
    }

    func testISRChangesOnlyFromTheCurrentLeaderAtTheCurrentEpochs() throws {
        let state = PartitionState(leader: "a", replicas: ["a", "b", "c"], isr: ["a", "b", "c"], leaderEpoch: 2, partitionEpoch: 7)
        let shrunk = try PartitionLeadership.alterISR(state, from: "a", leaderEpoch: 2, partitionEpoch: 7, isr: ["a", "b"])
        XCTAssertEqual(shrunk.isr, ["a", "b"])
        XCTAssertEqual(shrunk.partitionEpoch, 8)
        XCTAssertThrowsError(try PartitionLeadership.alterISR(state, from: "b", leaderEpoch: 2, partitionEpoch: 7, isr: ["b"]))
        XCTAssertThrowsError(try PartitionLeadership.alterISR(state, from: "a", leaderEpoch: 1, partitionEpoch: 7, isr: ["a"]))
        XCTAssertThrowsError(try PartitionLeadership.alterISR(state, from: "a", leaderEpoch: 2, partitionEpoch: 6, isr: ["a"]))
        XCTAssertThrowsError(try PartitionLeadership.alterISR(state, from: "a", leaderEpoch: 2, partitionEpoch: 7, isr: ["b", "c"]))
    }

    func testTheHighWatermarkIsTheLowestInSyncLogEndAndNeverFalls() {
        var tracker = ReplicaTracker(leader: "a", replicas: ["a", "b", "c"], isr: ["a", "b", "c"], logEnd: 10, highWatermark: 10,
                                     lagBound: 1_000, now: 0)
        XCTAssertEqual(tracker.leaderAppended(logEnd: 15), 10, "followers have not fetched the new records")
        XCTAssertEqual(tracker.followerFetched("b", offset: 15, now: 5), 10)
        XCTAssertEqual(tracker.followerFetched("c", offset: 12, now: 5), 12)
        XCTAssertEqual(tracker.followerFetched("c", offset: 15, now: 6), 15)
        XCTAssertEqual(tracker.followerFetched("c", offset: 11, now: 7), 15, "never lowered")
    }

    func testALaggingFollowerLeavesTheISRAndReturnsOnceCaughtUp() {
        var tracker = ReplicaTracker(leader: "a", replicas: ["a", "b", "c"], isr: ["a", "b", "c"], logEnd: 0, highWatermark: 0,
                                     lagBound: 1_000, now: 0)
        tracker.leaderAppended(logEnd: 100)
        tracker.followerFetched("b", offset: 100, now: 500)
        XCTAssertNil(tracker.proposedISR(now: 900))
        XCTAssertEqual(tracker.proposedISR(now: 1_200), ["a", "b"], "c never caught up within the bound")
        tracker.isrChanged(to: ["a", "b"])
        XCTAssertEqual(tracker.highWatermark, 100, "without c, everything b holds is committed")
        tracker.followerFetched("c", offset: 60, now: 1_300)
        XCTAssertNil(tracker.proposedISR(now: 1_300), "c is below the high watermark")
        tracker.followerFetched("c", offset: 100, now: 1_400)
        XCTAssertEqual(tracker.proposedISR(now: 1_400), ["a", "b", "c"])
    }

    func testAFollowerRejoinsOnlyOnceItHoldsEverythingBeforeTheTermBegan() {
        // A new leader's high watermark starts low (here 0) although records below its log end
        // may have been committed by the previous leader: a follower must reach the term's start.
        var tracker = ReplicaTracker(leader: "a", replicas: ["a", "b", "c"], isr: ["a", "b"], logEnd: 18, highWatermark: 0,
                                     lagBound: 1_000, now: 0)
        tracker.followerFetched("c", offset: 7, now: 10)
        XCTAssertNil(tracker.proposedISR(now: 10), "c lacks records 7…17, which may be committed")
        tracker.followerFetched("c", offset: 18, now: 20)
        XCTAssertEqual(tracker.proposedISR(now: 20), ["a", "b", "c"])
    }

    func testWhileAnExpansionIsPendingTheHighWatermarkWaitsForTheNewMemberToo() {
        var tracker = ReplicaTracker(leader: "a", replicas: ["a", "b", "c"], isr: ["a", "b"], logEnd: 10, highWatermark: 10,
                                     lagBound: 1_000, now: 0)
        tracker.followerFetched("c", offset: 10, now: 1)
        XCTAssertEqual(tracker.proposeISR(now: 1), ["a", "b", "c"])
        tracker.leaderAppended(logEnd: 12)
        tracker.followerFetched("b", offset: 12, now: 2)
        XCTAssertEqual(tracker.highWatermark, 10, "c may already be in the controller's ISR: it must hold the records too")
        tracker.followerFetched("c", offset: 12, now: 3)
        XCTAssertEqual(tracker.highWatermark, 12)
    }
}

/// A later ISR request does not forget an earlier one still in flight: either may be applied.
final class PendingISRTests: XCTestCase {
    func testTheHighWatermarkCountsEveryMemberOfEveryRequestStillInFlight() {
        var tracker = ReplicaTracker(leader: "l", replicas: ["l", "g", "f"], isr: ["l", "g"], logEnd: 10, highWatermark: 10,
                                     lagBound: 100, now: 0)
        tracker.followerFetched("g", offset: 10, now: 1)
        tracker.followerFetched("f", offset: 10, now: 1)
        XCTAssertEqual(tracker.proposeISR(now: 1), ["l", "g", "f"], "f caught up: add it")
        // The request is held; later g lags, and the leader asks for {l} alone.
        tracker.leaderAppended(logEnd: 20)
        tracker.followerFetched("g", offset: 20, now: 150)
        XCTAssertNotNil(tracker.proposeISR(now: 300))
        tracker.followerFetched("g", offset: 20, now: 301)
        XCTAssertEqual(tracker.highWatermark, 10, "the first request (adding f) may still be applied: f must hold the records too")
    }

    func testAFollowerThatStoppedFetchingIsNotAskedBackIntoTheISR() {
        // Out of the ISR, caught up once, then its node died: on a quiet partition its last
        // position still equals the leader's log end, yet the leader must not keep asking the
        // controller to take it back (each ask was a metadata write).
        var tracker = ReplicaTracker(leader: "a", replicas: ["a", "b"], isr: ["a"], logEnd: 10, highWatermark: 10, lagBound: 10_000, now: 0)
        tracker.followerFetched("b", offset: 10, now: 100)
        XCTAssertEqual(tracker.proposedISR(now: 200), ["a", "b"], "fetching and caught up: it joins")
        XCTAssertNil(tracker.proposedISR(now: 100 + tracker.joinFreshness + 1), "no fetch for a while: not asked back in")
    }
}
