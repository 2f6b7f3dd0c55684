import ClusterCore
import GanglionTestKit
import XCTest

/// Replicas (and leaderships) spreading onto nodes that hold fewer, one checked step at a time.
final class ReplicaBalanceTests: XCTestCase {
    /// Applies balance steps until none is left, putting each new replica in sync as a leader
    /// would once it caught up; checks every step as the metadata does and that no step leaves
    /// a partition with fewer in-sync replicas than its replication factor.
    private func balance(_ partitions: inout [String: [PartitionState]], alive: Set<String>, limit: Int = 500) throws -> Int {
        var steps = 0
        while let change = ReplicaBalance.next(partitions: partitions, alive: alive) {
            steps += 1
            XCTAssertLessThan(steps, limit, "balance never settles")
            if steps >= limit { break }
            let before = partitions[change.topic]![Int(change.partition)]
            try before.checkSuccessor(change.state)
            let factor = before.replicas.count - (before.removing == nil ? 0 : 1)
            XCTAssertGreaterThanOrEqual(change.state.isr.count, factor, "a step never leaves fewer in-sync replicas than the replication factor: \(before) → \(change.state)")
            var state = change.state
            if let added = state.adding {
                // The new replica catches up; its leader adds it to the ISR (AlterPartition).
                state = try PartitionLeadership.alterISR(state, from: state.leader!, leaderEpoch: state.leaderEpoch,
                                                         partitionEpoch: state.partitionEpoch, isr: state.isr + [added])
            }
            partitions[change.topic]![Int(change.partition)] = state
        }
        return steps
    }

    private func counts(_ partitions: [String: [PartitionState]], _ nodes: [String]) -> (replicas: [Int], leaders: [Int]) {
        let all = partitions.values.flatMap { $0 }
        return (nodes.map { node in all.filter { $0.replicas.contains(node) }.count },
                nodes.map { node in all.filter { $0.leader == node }.count })
    }

    func testANodeJoiningAThreeNodeClusterGetsItsShareOfReplicasAndLeaderships() throws {
        let nodes = ["n1", "n2", "n3"]
        var partitions: [String: [PartitionState]] = [:]
        for topic in ["orders", "payments"] {
            let placed = try ReplicaPlacement.place(partitions: 6, replicationFactor: 3, nodes: nodes)
            partitions[topic] = placed.map { PartitionState(leader: $0[0], replicas: $0, isr: $0, leaderEpoch: 1, partitionEpoch: 1) }
        }
        XCTAssertNil(ReplicaBalance.next(partitions: partitions, alive: Set(nodes)), "a balanced cluster moves nothing")
        let everyone = nodes + ["n4"]
        let steps = try balance(&partitions, alive: Set(everyone))
        let (replicas, leaders) = counts(partitions, everyone)
        XCTAssertLessThanOrEqual(replicas.max()! - replicas.min()!, 1, "replicas within one: \(replicas)")
        XCTAssertEqual(replicas.reduce(0, +), 36, "every partition keeps three replicas")
        XCTAssertLessThanOrEqual(leaders.max()! - leaders.min()!, 1, "leaderships within one: \(leaders)")
        XCTAssertEqual(steps, 2 * 9, "nine replicas moved, two steps each")
        for state in partitions.values.flatMap({ $0 }) {
            XCTAssertNil(state.removing)
            XCTAssertEqual(Set(state.replicas).count, 3)
            XCTAssertEqual(Set(state.isr), Set(state.replicas))
        }
    }

    func testAClusterOfOneGrowingToThreeSpreadsItsSingleReplicaPartitions() throws {
        var partitions = ["events": (0..<8).map { _ in PartitionState(leader: "n1", replicas: ["n1"], isr: ["n1"], leaderEpoch: 1, partitionEpoch: 1) }]
        _ = try balance(&partitions, alive: ["n1", "n2"])
        XCTAssertEqual(counts(partitions, ["n1", "n2"]).leaders, [4, 4])
        _ = try balance(&partitions, alive: ["n1", "n2", "n3"])
        let leaders = counts(partitions, ["n1", "n2", "n3"]).leaders
        XCTAssertLessThanOrEqual(leaders.max()! - leaders.min()!, 1, "\(leaders)")
    }

    func testNothingMovesWhileAPartitionLacksAnInSyncReplica() {
        var partitions = ["t": (0..<4).map { _ in PartitionState(leader: "n1", replicas: ["n1", "n2"], isr: ["n1", "n2"], leaderEpoch: 1, partitionEpoch: 1) }]
        XCTAssertNotNil(ReplicaBalance.next(partitions: partitions, alive: ["n1", "n2", "n3"]))
        partitions["t"]![2].isr = ["n1"]
        XCTAssertNil(ReplicaBalance.next(partitions: partitions, alive: ["n1", "n2", "n3"]), "a partition out of sync: no move")
    }

    func testAMoveWaitsForTheNewReplicaAndIsUndoneWhenItsNodeIsGone() throws {
        let start = ReplicaBalance.start(PartitionState(leader: "n1", replicas: ["n1", "n2"], isr: ["n1", "n2"], leaderEpoch: 3, partitionEpoch: 5),
                                         moving: "n1", to: "n3")
        XCTAssertEqual(start.replicas, ["n1", "n2", "n3"])
        XCTAssertEqual(start.adding, "n3")
        XCTAssertEqual(start.leaderEpoch, 4, "the leader's new term tracks the new follower")
        XCTAssertNil(ReplicaBalance.advance(start, alive: ["n1", "n2", "n3"]), "the new replica is not in sync yet")
        let undone = try XCTUnwrap(ReplicaBalance.advance(start, alive: ["n1", "n2"]))
        XCTAssertEqual(undone.replicas, ["n1", "n2"])
        XCTAssertNil(undone.removing)
        XCTAssertNoThrow(try start.checkSuccessor(undone))
        var synced = start
        synced.isr = ["n1", "n2", "n3"]
        synced.partitionEpoch += 1
        let done = try XCTUnwrap(ReplicaBalance.advance(synced, alive: ["n1", "n2", "n3"]))
        XCTAssertEqual(done.replicas, ["n3", "n2"], "the new replica takes the leaving one's place")
        XCTAssertEqual(done.leader, "n3", "and its leadership")
        XCTAssertEqual(done.isr, ["n3", "n2"])
        XCTAssertNoThrow(try synced.checkSuccessor(done))
    }

    func testReplicasChangeOnlyByTheStepsOfAMove() {
        let state = PartitionState(leader: "n1", replicas: ["n1", "n2"], isr: ["n1", "n2"], leaderEpoch: 1, partitionEpoch: 1)
        var swapped = state
        swapped.replicas = ["n1", "n3"]
        swapped.isr = ["n1"]
        swapped.leaderEpoch = 2
        swapped.partitionEpoch = 2
        XCTAssertThrowsError(try state.checkSuccessor(swapped), "a replica replaced without being added and in sync first")
        var early = ReplicaBalance.start(state, moving: "n2", to: "n3")
        early.partitionEpoch += 1
        let finished = PartitionState(leader: "n1", replicas: ["n1", "n3"], isr: ["n1", "n3"], leaderEpoch: early.leaderEpoch + 1,
                                      partitionEpoch: early.partitionEpoch + 1)
        XCTAssertThrowsError(try early.checkSuccessor(finished), "finished before the new replica was in sync")
        var sameEpoch = ReplicaBalance.start(state, moving: "n2", to: "n3")
        sameEpoch.leaderEpoch = state.leaderEpoch
        XCTAssertThrowsError(try state.checkSuccessor(sameEpoch), "a move raises the leader epoch")
    }
}
