import ClusterCore
import Foundation
import GanglionTestKit
import XCTest

/// Seeded simulations of a consumer group whose coordinator moves with its offsets partition's
/// leadership while nodes crash and restart and heartbeats are lost. `GANGLION_GROUP_SEEDS=n`
/// runs seeds 1…n (default 200), `GANGLION_GROUP_SEED=s` replays one; a failure prints its seed.
final class GroupSimulationTests: XCTestCase {
    private static let seeds: [UInt64] = ProcessInfo.processInfo.environment["GANGLION_GROUP_SEED"].flatMap(UInt64.init).map { [$0] }
        ?? Array(1...UInt64(ProcessInfo.processInfo.environment["GANGLION_GROUP_SEEDS"].flatMap(Int.init) ?? 200))

    func testNoCommitIsLostAndOwnershipSettlesAcrossCoordinatorMoves() {
        var commits = 0, moves = 0
        var failures: [String] = []
        for seed in Self.seeds {
            var simulation = GroupSimulation(seed: seed)
            do {
                try simulation.run()
            } catch {
                failures.append("\(error)")
                if failures.count >= 5 { break }
            }
            commits += simulation.commits
            moves += simulation.moves
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
        XCTAssertGreaterThan(commits, Self.seeds.count * 20, "the runs committed offsets")
        XCTAssertGreaterThan(moves, Self.seeds.count, "the coordinator moved")
    }
}
