import ClusterCore
import Foundation
import GanglionTestKit
import XCTest

/// Seeded simulations of 3 and 5 voters under drops, delays, duplicates, reordering, partitions,
/// pauses, crashes that lose unsynced writes and restarts. Safety is checked after every step;
/// after healing a final proposal must commit everywhere. `GANGLION_RAFT_SEEDS=n` runs seeds
/// 1…n (default 150 per voter count, about 30 s in a debug build; 1 000 each pass locally), `GANGLION_RAFT_SEED=s`
/// replays one; a failure prints its seed.
final class RaftSimulationTests: XCTestCase {
    private static let seeds: [UInt64] = ProcessInfo.processInfo.environment["GANGLION_RAFT_SEED"].flatMap(UInt64.init).map { [$0] }
        ?? Array(1...UInt64(ProcessInfo.processInfo.environment["GANGLION_RAFT_SEEDS"].flatMap(Int.init) ?? 150))

    func testThreeVotersStaySafeAndRecover() { simulate(voterCount: 3) }

    func testFiveVotersStaySafeAndRecover() { simulate(voterCount: 5) }

    private func simulate(voterCount: Int) {
        var failures: [String] = []
        var committed = 0
        for seed in Self.seeds {
            var simulation = RaftSimulation(seed: seed, voterCount: voterCount)
            do {
                try simulation.run()
                committed += simulation.committedCount
            } catch {
                print("Raft simulation failed, \(voterCount) voters, \(error) (replay with GANGLION_RAFT_SEED=\(seed))")
                failures.append("\(error)")
                if failures.count >= 5 { break }
            }
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n") + "\n(replay one with GANGLION_RAFT_SEED=<seed>)")
        XCTAssertGreaterThan(committed, Self.seeds.count, "the runs committed proposals")
        print("Raft simulation: \(voterCount) voters, \(Self.seeds.count) seeds, \(committed) proposals committed")
    }
}
