import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Consumer groups over the protocol: join, incremental handover, fenced commits, and offsets
/// that survive a restart.
final class GroupProtocolTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-groups-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func startNode() throws -> Node {
        return try startTestNode(directory)
    }

    private func heartbeat(_ client: GanglionClient, member: String = "", epoch: Int32, owned: [UInt32] = [], join: Bool = false) async throws
        -> Ganglion_V1_GroupHeartbeatResponse {
        var request = Ganglion_V1_GroupHeartbeatRequest()
        request.group = "billing"
        request.memberID = member
        request.memberEpoch = epoch
        if join { request.subscribedTopics = ["orders"] }
        var partitions = Ganglion_V1_TopicPartitions()
        partitions.topic = "orders"
        partitions.partitions = owned
        if !owned.isEmpty { request.owned = [partitions] }
        return try await client.call(.groupHeartbeat, request, reply: Ganglion_V1_GroupHeartbeatResponse.self).0
    }

    private func commit(_ client: GanglionClient, member: String, epoch: Int32, partition: UInt32, offset: Int64) async throws -> Ganglion_V1_ErrorCode {
        var request = Ganglion_V1_OffsetCommitRequest()
        request.group = "billing"
        request.memberID = member
        request.memberEpoch = epoch
        var entry = Ganglion_V1_PartitionOffset()
        entry.topic = "orders"
        entry.partition = partition
        entry.offset = offset
        request.offsets = [entry]
        return try await client.call(.offsetCommit, request, reply: Ganglion_V1_OffsetCommitResponse.self).0.errors[0].error
    }

    func testMembersSharePartitionsAndCommittedOffsetsSurviveARestart() async throws {
        var node: Node? = try startNode()
        var client = try GanglionClient(endpoint: node!.endpoints.api)
        try await client.createTopic("orders", partitions: 4)
        let first = try await heartbeat(client, epoch: 0, join: true)
        let firstOwned = first.assignment.flatMap(\.partitions)
        XCTAssertEqual(firstOwned.count, 4)
        let second = try await heartbeat(client, epoch: 0, join: true)
        XCTAssertTrue(second.assignment.isEmpty, "nothing until the first member revokes")
        let shrunk = try await heartbeat(client, member: first.memberID, epoch: first.memberEpoch, owned: firstOwned)
        let kept = shrunk.assignment.flatMap(\.partitions)
        XCTAssertEqual(kept.count, 2)
        let revoked = Set(firstOwned).subtracting(kept).sorted()
        // The first member commits what it gives up, then reports it no longer owns it.
        let handover = try await commit(client, member: first.memberID, epoch: shrunk.memberEpoch, partition: revoked[0], offset: 0)  // the partition is empty: 0 is its high watermark
        XCTAssertEqual(handover, .none)
        _ = try await heartbeat(client, member: first.memberID, epoch: shrunk.memberEpoch, owned: kept)
        let grown = try await heartbeat(client, member: second.memberID, epoch: second.memberEpoch)
        XCTAssertEqual(grown.assignment.flatMap(\.partitions).sorted(), revoked)
        // A member cannot commit a partition it does not hold; a made-up member is refused.
        let foreign = try await commit(client, member: first.memberID, epoch: shrunk.memberEpoch, partition: revoked[0], offset: 7)
        XCTAssertEqual(foreign, .notPartitionOwner)
        let zombie = try await commit(client, member: "zombie", epoch: 3, partition: revoked[0], offset: 7)
        XCTAssertEqual(zombie, .unknownMemberID)

        var describe = Ganglion_V1_DescribeGroupRequest()
        describe.group = "billing"
        let described = try await client.call(.describeGroup, describe, reply: Ganglion_V1_DescribeGroupResponse.self).0
        XCTAssertEqual(described.members.count, 2)
        XCTAssertEqual(described.lag.first?.committedOffset, 0)
        // The target assignment is in the metadata log, with both members.
        let recorded = try XCTUnwrap(node!.metadataState.groupAssignments["billing"])
        XCTAssertEqual(Set(recorded.members.keys), [first.memberID, second.memberID])
        XCTAssertEqual(recorded.members.values.map(\.count).sorted(), [2, 2])

        client.close()
        node!.stop()
        node = try startNode()
        defer { node?.stop() }
        client = try GanglionClient(endpoint: node!.endpoints.api)
        defer { client.close() }
        var fetch = Ganglion_V1_OffsetFetchRequest()
        fetch.group = "billing"
        let offsets = try await client.call(.offsetFetch, fetch, reply: Ganglion_V1_OffsetFetchResponse.self).0.offsets
        XCTAssertEqual(offsets.map(\.offset), [0])
        XCTAssertEqual(offsets.first?.partition, revoked[0])
        // The assignment survived the restart, and the group's epochs continue after it.
        XCTAssertEqual(node!.metadataState.groupAssignments["billing"]?.epoch, recorded.epoch)
        let rejoined = try await heartbeat(client, epoch: 0, join: true)
        XCTAssertGreaterThan(rejoined.memberEpoch, recorded.epoch, "epochs only grow across restarts")
    }
}
