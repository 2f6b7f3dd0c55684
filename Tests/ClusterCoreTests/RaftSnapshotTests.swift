import ClusterCore
import XCTest

/// Log compaction below a snapshot, and InstallSnapshot for a follower the log cannot catch up.
final class RaftSnapshotTests: XCTestCase {
    private let voters = ["n1", "n2", "n3"]

    func testCompactionDropsTheEntriesTheSnapshotCovers() throws {
        var cluster = RaftTestCluster(voters)
        cluster.campaign("n1")
        for value in 1...5 as ClosedRange<UInt8> { try cluster.propose("n1", [value]) }
        XCTAssertEqual(cluster.nodes["n1"]!.log.applied, 6)
        try cluster.nodes["n1"]!.compact(through: 4, data: [42])
        let log = cluster.nodes["n1"]!.log
        XCTAssertEqual(log.firstIndex, 5)
        XCTAssertEqual(log.snapshot?.data, [42])
        XCTAssertEqual(log.term(at: 4), 1)
        XCTAssertNil(log.term(at: 3))
        XCTAssertThrowsError(try cluster.nodes["n1"]!.compact(through: 3, data: [])) { error in
            XCTAssertEqual((error as? RaftError)?.code, .compactionOutOfRange)
        }
        XCTAssertThrowsError(try cluster.nodes["n1"]!.compact(through: 9, data: []), "not yet applied")
    }

    func testAFollowerFarBehindCatchesUpFromTheLeadersSnapshot() throws {
        var cluster = RaftTestCluster(voters)
        cluster.campaign("n1")
        cluster.isolate("n3")
        for value in 1...10 as ClosedRange<UInt8> { try cluster.propose("n1", [value]) }
        try cluster.nodes["n1"]!.compact(through: 8, data: [8])
        cluster.heal()
        cluster.readies["n3"] = []
        cluster.tickAll(3)
        let installed = cluster.readies["n3"]!.compactMap(\.snapshot)
        XCTAssertEqual(installed.map(\.index), [8], "the snapshot is handed over once, to persist and load")
        XCTAssertEqual(installed.first?.data, [8])
        XCTAssertEqual(cluster.nodes["n3"]!.log.lastIndex, 11)
        XCTAssertEqual(cluster.nodes["n3"]!.log.committed, 11)
        XCTAssertEqual(cluster.nodes["n3"]!.log.entries, cluster.nodes["n1"]!.log.entries)
        let applied = cluster.readies["n3"]!.flatMap(\.committedEntries).map(\.index)
        XCTAssertEqual(applied, [9, 10, 11], "entries after the snapshot are applied on top of it")
    }

    func testARestartFromASnapshotAppliesOnlyTheEntriesAfterIt() {
        let snapshot = RaftSnapshot(index: 5, term: 2, voters: voters, data: [5])
        let persisted = RaftPersistentState(hardState: RaftHardState(term: 2, commit: 7), snapshot: snapshot,
                                            entries: [RaftEntry(term: 2, index: 6), RaftEntry(term: 2, index: 7), RaftEntry(term: 2, index: 8)])
        var node = makeRaftNode("n1", voters: voters, persisted: persisted)
        XCTAssertEqual(node.tick().committedEntries.map(\.index), [6, 7])
        XCTAssertEqual(node.log.term(at: 5), 2)
    }

    func testAnInconsistentPersistedStateIsRefused() {
        let gap = RaftPersistentState(hardState: RaftHardState(term: 1, commit: 0), entries: [RaftEntry(term: 1, index: 2)])
        let configuration = RaftConfiguration(id: "n1", voters: voters)
        XCTAssertThrowsError(try RaftNode(configuration: configuration, persisted: gap, random: SystemRandomNumberGenerator())) { error in
            XCTAssertEqual((error as? RaftError)?.code, .invalidPersistentState)
        }
        XCTAssertThrowsError(try RaftNode(configuration: RaftConfiguration(id: "n9", voters: voters), random: SystemRandomNumberGenerator())) { error in
            XCTAssertEqual((error as? RaftError)?.code, .invalidConfiguration)
        }
    }
}
