import ClusterCore
import EventLog
import Foundation
import GanglionWire
import XCTest
@testable import ClusterRuntime

/// `__consumer_offsets` stays bounded: the node's maintenance compacts it to the newest commit of
/// each partition, so a restart replays a bounded log however many commits came before.
/// `GANGLION_OFFSET_COMMITS=n` commits more and prints the restart time (10⁶ for the figures in
/// the closing note).
final class OffsetsLogCompactionTests: XCTestCase {
    private static let commits = Int(ProcessInfo.processInfo.environment["GANGLION_OFFSET_COMMITS"] ?? "") ?? 20_000

    func testCommitsAreCompactedAndARestartReplaysFewRecords() throws {
        let directory = NSTemporaryDirectory() + "ganglion-offsets-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let metadata = try MetadataStore(directory: directory)
        try metadata.commitAndWait(.topicCreated(name: "t", configuration: TopicConfiguration(partitions: 4)))
        var groups: GroupService? = try GroupService(dataDirectory: directory, metadata: metadata, offsetsSegmentBytes: 256 << 10)
        var heartbeat = Ganglion_V1_GroupHeartbeatRequest()
        heartbeat.group = "g"
        heartbeat.subscribedTopics = ["t"]
        let member = try groups!.heartbeat(heartbeat)
        // Commits in flight together, in rounds, as many consumers committing would send them.
        let perRound = 500
        for round in 0..<(Self.commits / perRound) {
            let done = DispatchGroup()
            for index in 0..<perRound {
                var request = Ganglion_V1_OffsetCommitRequest()
                request.group = "g"
                request.memberID = member.memberID
                request.memberEpoch = member.memberEpoch
                var entry = Ganglion_V1_PartitionOffset()
                entry.topic = "t"
                entry.partition = UInt32(index % 4)
                entry.offset = Int64(round * perRound + index)
                request.offsets = [entry]
                done.enter()
                groups!.commit(request, highWatermark: { _ in Int64.max }) { _ in done.leave() }
            }
            done.wait()
        }
        let before = try groups!.offsetsLogFigures()
        groups!.maintain()
        let after = try groups!.offsetsLogFigures()
        XCTAssertEqual(before.records, Self.commits)
        XCTAssertLessThan(after.records, 4 + before.records / before.segments * 2, "closed segments keep one record per partition")
        XCTAssertLessThan(after.segments, 4, "segments emptied by compaction are deleted")
        groups!.close()
        groups = nil
        let started = ContinuousClock.now
        let restarted = try GroupService(dataDirectory: directory, metadata: metadata, offsetsSegmentBytes: 256 << 10)
        let restart = ContinuousClock.now - started
        defer { restarted.close() }
        for partition in 0..<4 {
            XCTAssertEqual(restarted.committedOffset(group: "g", partition: TopicPartition("t", Int32(partition))),
                           Int64(Self.commits - 4 + partition))
        }
        print("offsets log: \(Self.commits) commits, \(before.segments) segments / \(before.records) records before compaction, "
              + "\(after.segments) segments / \(after.records) records after; restart \(restart)")
    }
}
