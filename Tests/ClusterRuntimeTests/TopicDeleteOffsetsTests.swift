import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Deleting a topic forgets every group's committed offsets on it, on whichever node coordinates
/// the group: a topic made again under the same name starts with no committed offsets, so its
/// groups read it from their reset policy's start instead of from where they were in the old
/// topic (skipping the new topic's first events).
final class TopicDeleteOffsetsTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-topic-delete-offsets-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testDeletingATopicForgetsItsOffsetsInGroupsCoordinatedOnEveryNode() async throws {
        let cluster = try await TestCluster.withGroups(root: directory)
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        _ = try await cluster.singleReplicaTopic("orders", client: client) { _ in 5 }
        // Groups enough that their coordinators (the leaders of the __consumer_offsets
        // partitions their names hash to) are on every node.
        let groups = (0..<12).map { "billing-\($0)" }
        for group in groups { _ = try await client.resetOffsets(group: group, topic: "orders", to: .latest) }
        func committed(_ group: String) async throws -> [Int64] {
            try await client.describeGroup(group).lag.filter { $0.topic == "orders" }.map(\.committedOffset)
        }
        for group in groups {
            let offsets = try await committed(group)
            XCTAssertEqual(offsets, [5, 5, 5], "group \(group) committed at the old topic's end")
        }

        try await client.deleteTopic("orders")
        try await cluster.waitForAll("orders deleted") { $0.metadataState.topics["orders"] == nil }
        _ = try await cluster.singleReplicaTopic("orders", client: client) { _ in 2 }
        var stale: [String: [Int64]] = [:]
        for group in groups {
            let offsets = try await committed(group)
            if !offsets.isEmpty { stale[group] = offsets }
        }
        XCTAssertEqual(stale, [:], "groups still holding offsets of the deleted topic in the new one")
    }

    /// The same after a restart of every node, when no coordinator has loaded its groups yet as
    /// the topic is deleted (a coordinator loads them from its `__consumer_offsets` partition at
    /// its first group request): the offsets it then loads of the old topic do not count for the
    /// new one (each names the topic id it was committed under).
    func testOffsetsLoadedAfterTheDeletionDoNotCountForTheNewTopic() async throws {
        let cluster = try await TestCluster.withGroups(root: directory)
        defer { cluster.stopAll() }
        var client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        _ = try await cluster.singleReplicaTopic("orders", client: client) { _ in 5 }
        let groups = (0..<12).map { "billing-\($0)" }
        for group in groups { _ = try await client.resetOffsets(group: group, topic: "orders", to: .latest) }
        client.close()

        // Every node restarted: no group service is loaded until a group request comes.
        cluster.stopAll()
        for id in cluster.voterIDs { try cluster.start(id) }
        _ = try await cluster.agreedLeader()
        try await cluster.waitForAll("__consumer_offsets led again") { node in
            (node.metadataState.partitions[GroupPlacement.offsetsTopic] ?? []).allSatisfy { $0.leader != nil }
        }
        client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        try await client.deleteTopic("orders")
        try await cluster.waitForAll("orders deleted") { $0.metadataState.topics["orders"] == nil }
        _ = try await cluster.singleReplicaTopic("orders", client: client) { _ in 2 }
        var stale: [String: [Int64]] = [:]
        for group in groups {
            let offsets = try await client.describeGroup(group).lag.filter { $0.topic == "orders" }.map(\.committedOffset)
            if !offsets.isEmpty { stale[group] = offsets }
        }
        XCTAssertEqual(stale, [:], "groups holding offsets of the deleted topic in the new one")
    }
}
