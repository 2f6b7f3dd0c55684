import ClusterCore
import EventLog
import Foundation
import Ganglion
import XCTest
@testable import ClusterRuntime

/// A node whose replica moved off while it was down deletes its old copy when it comes back and
/// has caught up with the metadata, and keeps the copies of the partitions it still hosts — on
/// real nodes over loopback sockets, also when the returning node's copy of the metadata is lost
/// (or older than its data: the commit index is written without fsync), so its first view knows
/// nothing and the view it catches up to never showed it the replica. (A replica that moves off a
/// running node is deleted at once: ReplicaBalanceClusterTests.)
final class ReplicaRemovedWhileDownTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-removed-\(UUID().uuidString)"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testAReplicaMovedOffWhileItsNodeWasDownIsDeletedWhenTheNodeReturnsAndItsOtherReplicasStay() async throws {
        try await moveAReplicaOffWhileItsNodeIsDown(losingItsMetadata: false)
    }

    func testAReturningNodeWhoseMetadataCopyWasLostDeletesTheReplicaMovedOffOnceCaughtUpAndKeepsTheOthers() async throws {
        try await moveAReplicaOffWhileItsNodeIsDown(losingItsMetadata: true)
    }

    /// o1 hosts replicas of `placed`; while it is down one of them moves to a voter; o1 returns
    /// (with its metadata copy deleted when `losingItsMetadata`).
    private func moveAReplicaOffWhileItsNodeIsDown(losingItsMetadata: Bool) async throws {
        let cluster = try TestCluster(voters: 3, observers: 1, root: directory) { configuration in
            configuration.controller.nodeSessionTimeout = .milliseconds(1_500)
            configuration.controller.nodeHeartbeat = .milliseconds(300)
        }
        defer { cluster.stopAll() }
        _ = try await cluster.agreedLeader()
        try await cluster.waitForAll("every node registered and alive") { $0.readiness.ready }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        let partitions: UInt32 = 8
        _ = try await client.createTopic("placed", partitions: partitions, replicationFactor: 2)
        try await cluster.waitForAll("placed led and fully in sync") { node in
            let states = node.metadataState.partitions["placed"] ?? []
            return states.count == Int(partitions) && states.allSatisfy { $0.leader != nil && $0.isr.count == 2 }
        }
        for partition in 0..<partitions {
            var batch = RecordBatchBuilder()
            batch.append(key: nil, value: Array("r\(partition)".utf8), timestamp: 0)
            _ = try await client.produce(topic: "placed", partition: partition, batch: batch.build(), timeout: .seconds(5))
        }
        let placed = try XCTUnwrap(cluster.nodes["v1"]?.metadataState.partitions["placed"])
        let hosted = placed.indices.filter { placed[$0].replicas.contains("o1") }
        XCTAssertGreaterThanOrEqual(hosted.count, 2, "o1 hosts two partitions or more: \(placed)")
        let moved = hosted[0], kept = hosted.dropFirst()
        let copy = { (partition: Int) in self.directory + "/o1/topics/placed-\(partition)" }
        for partition in hosted { XCTAssertTrue(FileManager.default.fileExists(atPath: copy(partition)), "o1 holds placed-\(partition)") }

        // o1 stops; while it is down, its replica of `moved` goes to a voter (the move's first
        // step is committed here; the controller's balance finishes it once the voter is in sync).
        cluster.stop("o1")
        let leaderID = try await cluster.agreedLeader()
        try await cluster.waitForAll("o1 out of placed-\(moved)'s ISR") { node in
            node.metadataState.partitions["placed"].map { !$0[moved].isr.contains("o1") } ?? false
        }
        let leader = try XCTUnwrap(cluster.nodes[leaderID])
        let before = try XCTUnwrap(leader.metadataState.partitions["placed"]?[moved])
        let spare = try XCTUnwrap(cluster.voterIDs.first { !before.replicas.contains($0) })
        try await leader.api.metadata.commit(.partitionChanged(PartitionChange(topic: "placed", partition: Int32(moved),
                                                                               state: ReplicaBalance.start(before, moving: "o1", to: spare))))
        try await cluster.waitForAll(seconds: 20, "placed-\(moved) moved from o1 to \(spare)") { node in
            node.metadataState.partitions["placed"].map { $0[moved].removing == nil && $0[moved].replicas.contains(spare) && !$0[moved].replicas.contains("o1") } ?? false
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: copy(moved)), "o1's copy stays while o1 is down")

        if losingItsMetadata { try FileManager.default.removeItem(atPath: directory + "/o1/__metadata-0") }

        // o1 comes back: once caught up with the metadata, its copy of `moved` goes.
        try cluster.start("o1")
        try await cluster.waitForAll("o1 registered and alive again") { $0.metadataState.nodes["o1"]?.state == .alive && $0.readiness.ready }
        let deadline = Date(timeIntervalSinceNow: 10)
        while FileManager.default.fileExists(atPath: copy(moved)) && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: copy(moved)), "o1 still holds placed-\(moved), moved off while it was down")
        try await Task.sleep(for: .milliseconds(500))
        let now = try XCTUnwrap(cluster.nodes["o1"]?.metadataState.partitions["placed"])
        for partition in kept where now[partition].replicas.contains("o1") {
            XCTAssertTrue(FileManager.default.fileExists(atPath: copy(partition)), "o1 lost its copy of placed-\(partition), which it still hosts")
        }
        XCTAssertTrue(kept.contains { now[$0].replicas.contains("o1") }, "o1 still hosts some of \(Array(kept)): \(now)")
    }
}
