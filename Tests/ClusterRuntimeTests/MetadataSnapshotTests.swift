import ClusterCore
import EventLog
import Foundation
import SchemaRegistry
import XCTest
@testable import ClusterRuntime

/// The metadata log stays bounded: every so many records the state is written as a snapshot and
/// the log's segments below it are deleted, so a restart loads the snapshot and replays only what
/// came after, however long the history. `GANGLION_METADATA_RECORDS=n` commits more and prints
/// the restart time.
final class MetadataSnapshotTests: XCTestCase {
    private static let records = Int(ProcessInfo.processInfo.environment["GANGLION_METADATA_RECORDS"] ?? "") ?? 5_000

    func testARestartLoadsTheSnapshotAndReplaysOnlyTheTail() async throws {
        let directory = NSTemporaryDirectory() + "ganglion-metadata-snapshot-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let limits = MetadataStore.Limits(snapshotEvery: 1_000, segmentBytes: 32 << 10)
        var store: MetadataStore? = try MetadataStore(directory: directory, limits: limits)
        try await store!.commit(.topicCreated(name: "orders", configuration: TopicConfiguration(partitions: 3)))
        // Producer ids, many in flight at once (they share fsyncs), as a busy cluster issues them.
        let perRound = 250
        for _ in 0..<(Self.records / perRound) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<perRound {
                    group.addTask { [store] in
                        _ = try await withCheckedThrowingContinuation { continuation in
                            store!.commit(deciding: { try $0.producerInitialization(resuming: nil) }) { continuation.resume(with: $0) }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let before = store!.state
        XCTAssertEqual(before.producerEpochs.count, Self.records)
        try store!.close()
        store = nil
        let started = ContinuousClock.now
        let reopened = try MetadataStore(directory: directory, limits: limits)
        let restart = ContinuousClock.now - started
        defer { try? reopened.close() }
        XCTAssertEqual(reopened.state.topics, before.topics)
        XCTAssertEqual(reopened.state.producerEpochs, before.producerEpochs)
        XCTAssertEqual(reopened.state.nextProducerID, before.nextProducerID)
        XCTAssertNotNil(reopened.recovery.snapshotOffset, "a snapshot was loaded")
        XCTAssertLessThan(reopened.recovery.replayedRecords, 2_000, "the replay covers what came after the snapshot, not the history")
        XCTAssertLessThan(reopened.recovery.segments, 4, "segments below the snapshot were deleted")
        print("metadata log: \(Self.records + 1) records; restart loaded the snapshot at \(reopened.recovery.snapshotOffset ?? -1), "
              + "replayed \(reopened.recovery.replayedRecords) record(s) from \(reopened.recovery.segments) segment(s) in \(restart)")
        // The reopened store keeps deciding from the restored state.
        try await reopened.commit(.producerInitialized(id: before.nextProducerID, epoch: 0))
    }
}
