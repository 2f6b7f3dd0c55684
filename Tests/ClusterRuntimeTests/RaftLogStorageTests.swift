import ClusterCore
import EventLog
import Foundation
import XCTest
@testable import ClusterRuntime

/// A controller voter's Raft log on disk is the metadata log: entries survive a restart with
/// their terms, a conflicting suffix is replaced, the hard state is kept, and a leader's
/// snapshot replaces the whole log.
final class RaftLogStorageTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-raftlog-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func command(_ term: Int64, _ index: Int64, topic: String) throws -> RaftEntry {
        let record = MetadataRecord.topicCreated(name: topic, configuration: TopicConfiguration(partitions: 1))
        return RaftEntry(term: term, index: index, kind: .command, data: try MetadataEntry.metadata(record).raftData())
    }

    func testEntriesTermsAndHardStateSurviveARestartAndAConflictingSuffixIsReplaced() throws {
        var storage: RaftLogStorage? = try RaftLogStorage(dataDirectory: directory)
        _ = try storage!.load()
        var ready = RaftReady()
        ready.entries = [RaftEntry(term: 1, index: 1, kind: .leaderNoop), try command(1, 2, topic: "a"), try command(1, 3, topic: "b")]
        ready.hardState = RaftHardState(term: 1, vote: "v1", commit: 2)
        try storage!.persist(ready)
        // A new leader of term 2 replaces entry 3 onwards.
        var repair = RaftReady()
        repair.entries = [try command(2, 3, topic: "c"), try command(2, 4, topic: "d")]
        repair.hardState = RaftHardState(term: 2, vote: "v2", commit: 3)
        try storage!.persist(repair)
        try storage!.close()
        storage = nil

        let reopened = try RaftLogStorage(dataDirectory: directory)
        let (persisted, snapshot) = try reopened.load()
        XCTAssertNil(snapshot)
        XCTAssertEqual(persisted.hardState, RaftHardState(term: 2, vote: "v2", commit: 3))
        XCTAssertEqual(persisted.entries.map(\.index), [1, 2, 3, 4])
        XCTAssertEqual(persisted.entries.map(\.term), [1, 1, 2, 2])
        XCTAssertEqual(persisted.entries[0].kind, .leaderNoop)
        XCTAssertEqual(persisted.entries[2], try command(2, 3, topic: "c"))
        // The log is readable as a cluster of one writes it: offsets 0…3, the record JSON as the value.
        XCTAssertEqual(reopened.log.logEndOffset, 4)
        XCTAssertEqual(reopened.log.highWatermark, 3, "the high watermark is the commit index")
        try reopened.close()
    }

    func testALeadersSnapshotReplacesTheWholeLog() throws {
        let storage = try RaftLogStorage(dataDirectory: directory)
        _ = try storage.load()
        var ready = RaftReady()
        ready.entries = [try command(1, 1, topic: "old")]
        try storage.persist(ready)
        var metadata = MetadataState()
        metadata.apply(.topicCreated(name: "kept", configuration: TopicConfiguration(partitions: 2)))
        let snapshot = MetadataSnapshot(offset: 50, metadata: metadata, registry: .init(), term: 3)
        var install = RaftReady()
        install.snapshot = RaftSnapshot(index: 50, term: 3, voters: ["v1"], data: Array(try JSONEncoder().encode(snapshot)))
        install.entries = [try command(3, 51, topic: "after")]
        install.hardState = RaftHardState(term: 3, vote: nil, commit: 51)
        try storage.persist(install)
        try storage.close()

        let reopened = try RaftLogStorage(dataDirectory: directory)
        let (persisted, loaded) = try reopened.load()
        XCTAssertEqual(loaded?.metadata.topics.keys.sorted(), ["kept"])
        XCTAssertEqual(persisted.snapshot?.index, 50)
        XCTAssertEqual(persisted.snapshot?.term, 3)
        XCTAssertEqual(persisted.entries.map(\.index), [51])
        XCTAssertEqual(reopened.log.logStartOffset, 50)
        try reopened.close()
    }

    func testASnapshotOfACluster0fOneIsRefusedWithAClearError() throws {
        // A data directory of a single node (snapshot without a term) cannot silently become a voter's.
        let store = try MetadataStore(directory: directory, limits: .init(snapshotEvery: 2))
        for name in ["a", "b", "c"] { try store.commitAndWait(.topicCreated(name: name, configuration: TopicConfiguration(partitions: 1))) }
        Thread.sleep(forTimeInterval: 0.2)
        try store.close()
        let storage = try RaftLogStorage(dataDirectory: directory)
        XCTAssertThrowsError(try storage.load()) { error in XCTAssertTrue("\(error)".contains("cluster of one"), "\(error)") }
        try storage.close()
    }
}

/// The commit index is written without an fsync: a crash may leave that write torn, and the
/// voter must still start (the commit index is recoverable: it only means applying again).
final class RaftCommitFileTests: XCTestCase {
    func testATornCommitIndexWriteDoesNotStopTheVoterAndTheVoteSurvives() throws {
        let directory = NSTemporaryDirectory() + "ganglion-raftcommit-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let storage = try RaftLogStorage(dataDirectory: directory)
        _ = try storage.load()
        var ready = RaftReady()
        ready.entries = [RaftEntry(term: 3, index: 1, kind: .leaderNoop), RaftEntry(term: 3, index: 2, kind: .leaderNoop)]
        ready.hardState = RaftHardState(term: 3, vote: "v2", commit: 0)
        try storage.persist(ready)
        var commitOnly = RaftReady()
        commitOnly.hardState = RaftHardState(term: 3, vote: "v2", commit: 2)
        try storage.persist(commitOnly)
        try storage.close()
        // What a crash right after the un-fsynced rename can leave: an empty file where the commit index was written.
        let written = try FileManager.default.contentsOfDirectory(atPath: directory + "/__metadata-0").filter { $0.hasPrefix("raft-") }
        for name in written where name != "raft-state.json" {
            FileManager.default.createFile(atPath: directory + "/__metadata-0/" + name, contents: Data())
        }
        XCTAssertFalse(written.filter { $0 != "raft-state.json" }.isEmpty, "the commit index lives in a file of its own: \(written)")
        let reopened = try RaftLogStorage(dataDirectory: directory)
        let (persisted, _) = try reopened.load()
        XCTAssertEqual(persisted.hardState.term, 3)
        XCTAssertEqual(persisted.hardState.vote, "v2", "the vote is never lost")
        XCTAssertEqual(persisted.hardState.commit, 0, "a torn commit index counts as none")
        try reopened.close()
    }
}
