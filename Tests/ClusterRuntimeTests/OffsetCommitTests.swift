import ClusterCore
import EventLog
import Foundation
import GanglionWire
import SwiftProtobuf
import XCTest
@testable import ClusterRuntime

/// Offset commits: the metadata committed with an offset comes back, offsets outside the
/// partition are refused per partition, and a commit is visible only once it is durable.
final class OffsetCommitTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-commit-" + UUID().uuidString
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func join(_ client: NodeTests.Client, group: String, topic: String) throws -> Ganglion_V1_GroupHeartbeatResponse {
        var heartbeat = Ganglion_V1_GroupHeartbeatRequest()
        heartbeat.group = group
        heartbeat.subscribedTopics = [topic]
        let (header, frames) = try client.call(.groupHeartbeat, heartbeat)
        XCTAssertEqual(header.error, .none, header.errorMessage)
        return try frames[0].withUnsafeBytes { try Ganglion_V1_GroupHeartbeatResponse(serializedBytes: Data($0)) }
    }

    private func commit(_ client: NodeTests.Client, group: String, member: Ganglion_V1_GroupHeartbeatResponse,
                        _ offsets: [(UInt32, Int64, String)]) throws -> [Ganglion_V1_PartitionError] {
        var request = Ganglion_V1_OffsetCommitRequest()
        request.group = group
        request.memberID = member.memberID
        request.memberEpoch = member.memberEpoch
        request.offsets = offsets.map { partition, offset, metadata in
            var entry = Ganglion_V1_PartitionOffset()
            entry.topic = "t"
            entry.partition = partition
            entry.offset = offset
            entry.metadata = metadata
            return entry
        }
        let (header, frames) = try client.call(.offsetCommit, request)
        XCTAssertEqual(header.error, .none, header.errorMessage)
        return try frames[0].withUnsafeBytes { try Ganglion_V1_OffsetCommitResponse(serializedBytes: Data($0)) }.errors
    }

    private func fetchOffsets(_ client: NodeTests.Client, group: String) throws -> [Ganglion_V1_PartitionOffset] {
        var request = Ganglion_V1_OffsetFetchRequest()
        request.group = group
        let (_, frames) = try client.call(.offsetFetch, request)
        return try frames[0].withUnsafeBytes { try Ganglion_V1_OffsetFetchResponse(serializedBytes: Data($0)) }.offsets
    }

    func testMetadataComesBackAndOffsetsOutsideThePartitionAreRefused() throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try NodeTests.Client(node.endpoints.api)
        XCTAssertEqual(try client.createTopic("t", partitions: 2).error, .none)
        for index in 0..<3 { _ = try client.produce("t", partition: 0, batch: NodeTests.batch(["e\(index)"])) }
        let member = try join(client, group: "g", topic: "t")
        XCTAssertEqual(member.assignment.first?.partitions.count, 2)
        let errors = try commit(client, group: "g", member: member, [(0, 2, "checkpoint-7"), (1, -4, ""), (1, 5, "")])
        XCTAssertEqual(errors.map(\.error), [.none, .offsetOutOfRange, .offsetOutOfRange], errors.map(\.message).joined(separator: "; "))
        XCTAssertTrue(errors[2].message.contains("high watermark 0"), errors[2].message)
        let stored = try fetchOffsets(client, group: "g")
        XCTAssertEqual(stored.map(\.offset), [2])
        XCTAssertEqual(stored.first?.metadata, "checkpoint-7")
        // The metadata survives a restart (it is in the offsets log).
        node.stop()
        let restarted = try startTestNode(directory)
        defer { restarted.stop() }
        let again = try NodeTests.Client(restarted.endpoints.api)
        XCTAssertEqual(try fetchOffsets(again, group: "g").first?.metadata, "checkpoint-7")
    }

    func testACommitIsVisibleOnlyOnceDurable() throws {
        let faults = LogFaults()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let metadata = try MetadataStore(directory: directory)
        try metadata.commitAndWait(.topicCreated(name: "t", configuration: TopicConfiguration(partitions: 1)))
        let groups = try GroupService(dataDirectory: directory, metadata: metadata, faults: faults)
        defer { groups.close() }
        var heartbeat = Ganglion_V1_GroupHeartbeatRequest()
        heartbeat.group = "g"
        heartbeat.subscribedTopics = ["t"]
        let member = try groups.heartbeat(heartbeat)
        var request = Ganglion_V1_OffsetCommitRequest()
        request.group = "g"
        request.memberID = member.memberID
        request.memberEpoch = member.memberEpoch
        var entry = Ganglion_V1_PartitionOffset()
        entry.topic = "t"
        entry.offset = 0
        request.offsets = [entry]
        faults.failNextSyncs(1)
        let answered = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<Ganglion_V1_OffsetCommitResponse, any Error>?
        groups.commit(request, highWatermark: { _ in 10 }) { result in
            outcome = result
            answered.signal()
        }
        XCTAssertEqual(answered.wait(timeout: .now() + 10), .success)
        XCTAssertThrowsError(try outcome?.get(), "the commit's fsync failed: it is not acknowledged")
        XCTAssertNil(groups.committedOffset(group: "g", partition: TopicPartition("t", 0)), "an offset that is not durable is not visible")
        XCTAssertTrue(groups.fetchOffsets({ var r = Ganglion_V1_OffsetFetchRequest(); r.group = "g"; return r }()).offsets.isEmpty)
    }
}
