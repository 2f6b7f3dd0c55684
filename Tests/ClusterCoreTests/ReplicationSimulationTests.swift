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

    private func runSeeds(replicas: Int) throws {
        var acknowledged = 0
        for seed in Self.seeds {
            var simulation = ReplicationSimulation(seed: seed, nodeCount: replicas)
            do {
                try simulation.run()
            } catch {
                XCTFail("\(error)")
                return
            }
            acknowledged += simulation.acknowledged
        }
        XCTAssertGreaterThan(acknowledged, Self.seeds.count * 10, "the runs acknowledged writes")
        print("replication simulation: \(Self.seeds.count) seeds × \(replicas) replicas, \(acknowledged) writes acknowledged")
    }
}
