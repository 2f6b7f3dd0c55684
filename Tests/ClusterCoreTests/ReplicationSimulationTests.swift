import ClusterCore
import Foundation
import GanglionTestKit
import XCTest

/// Seeded simulations of one partition replicated on 3 and 5 nodes under drops, delays,
/// duplicates, partitions (the controller's links included), pauses and crashes that lose what
/// was not fsynced. `GANGLION_REPLICATION_SEEDS=n` runs seeds 1…n (default 100 per replica
/// count), `GANGLION_REPLICATION_SEED=s` replays one; a failure prints its seed.
final class ReplicationSimulationTests: XCTestCase {
    private static let seeds: [UInt64] = ProcessInfo.processInfo.environment["GANGLION_REPLICATION_SEED"].flatMap(UInt64.init).map { [$0] }
        ?? Array(1...UInt64(ProcessInfo.processInfo.environment["GANGLION_REPLICATION_SEEDS"].flatMap(Int.init) ?? 100))

    func testThreeReplicasLoseNothingAcknowledged() throws { try runSeeds(replicas: 3) }

    func testFiveReplicasLoseNothingAcknowledged() throws { try runSeeds(replicas: 5) }

    /// Replicas move onto spare nodes and back through the same faults (``ReplicaBalance``).
    func testReplicasMovingToOtherNodesLoseNothingAcknowledged() throws {
        try runSeeds(replicas: 3, spares: 2)
        try runSeeds(replicas: 1, minInSync: 1, spares: 1)
    }

    private func runSeeds(replicas: Int, minInSync: Int = 2, spares: Int = 0) throws {
        var acknowledged = 0, started = 0, finished = 0
        for seed in Self.seeds {
            var simulation = ReplicationSimulation(seed: seed, nodeCount: replicas, minInSync: minInSync, spares: spares)
            do {
                try simulation.run()
            } catch {
                XCTFail("\(error)")
                return
            }
            acknowledged += simulation.acknowledged
            started += simulation.movesStarted
            finished += simulation.movesFinished
        }
        XCTAssertGreaterThan(acknowledged, Self.seeds.count * 10, "the runs acknowledged writes")
        if spares > 0 { XCTAssertGreaterThan(finished, Self.seeds.count, "replicas moved") }
        print("replication simulation: \(Self.seeds.count) seeds × \(replicas) replicas + \(spares) spare, \(acknowledged) writes acknowledged, \(started) moves started, \(finished) finished")
    }
}
