import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest
import ZeroMQ

/// Followers on their leader's replication stream (`--replication-transport pub`): the leader
/// publishes each batch its followers may copy under the partition's replication topic, acks=all
/// still waits for every in-sync replica's durable copy, and a follower that missed the stream
/// (stopped while writes went on, subscribed again late) catches up by fetch and rejoins the ISR
/// with nothing acknowledged lost. (`GANGLION_TEST_REPLICATION_TRANSPORT=pub swift test --filter
/// Replication` runs every other replication test on the stream too.)
final class ReplicationStreamTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-replication-stream-\(UUID().uuidString)"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func values(_ records: [Record]) -> [String] { records.map { String(decoding: $0.value ?? [], as: UTF8.self) } }

    /// Three voters whose followers take the replication stream (`change` adjusts each node's
    /// configuration further), once they agree on a controller leader and all registered alive.
    private func streamCluster(_ change: @escaping (inout NodeConfiguration) -> Void = { _ in }) async throws -> TestCluster {
        let cluster = try TestCluster(voters: 3, root: directory) { configuration in
            configuration.replicationTransport = .pub
            change(&configuration)
        }
        do {
            _ = try await cluster.agreedLeader()
            try await cluster.waitForAll("every node registered alive") { node in
                node.metadataState.nodes.count == 3 && node.metadataState.nodes.values.allSatisfy { $0.state == .alive }
            }
            return cluster
        } catch {
            cluster.stopAll()
            throw error
        }
    }

    func testFollowersOnTheStreamCopyEveryBatchAndOneThatMissedItCatchesUpByFetch() async throws {
        let cluster = try await streamCluster { configuration in
            configuration.controller.nodeSessionTimeout = .milliseconds(1_500)
            configuration.controller.nodeHeartbeat = .milliseconds(300)
        }
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        _ = try await client.createTopic("events", partitions: 1)
        try await cluster.waitForAll("events placed") { $0.metadataState.partitions["events"]?.first?.leader != nil }
        let state = try XCTUnwrap(cluster.nodes.values.first?.metadataState.partitions["events"]?.first)
        let leader = try XCTUnwrap(state.leader)
        let follower = try XCTUnwrap(state.replicas.first { $0 != leader })
        let events = TopicPartition("events", 0)

        // A node-side observer of the leader's replication topic (plain text: no guard).
        let context = try Context()
        let sub = try Socket(.sub, context: context)
        try sub.set(.receiveTimeout(.seconds(5)))
        try sub.subscribe(StreamTopic.replicationFrame(for: events))
        try sub.connect(try XCTUnwrap(cluster.nodes[leader]).endpoints.pub)
        defer { sub.close() }
        // (Late subscribers miss what went before: let the subscription reach the leader.)
        try await Task.sleep(for: .milliseconds(300))

        var acknowledged: [String] = []
        func produce(_ value: String) async throws {
            var batch = RecordBatchBuilder()
            batch.append(key: nil, value: Array(value.utf8), timestamp: 0)
            _ = try await client.produce(topic: "events", partition: 0, batch: batch.build(), timeout: .seconds(15))
            acknowledged.append(value)
        }
        for index in 0..<20 { try await produce("first-\(index)") }
        try await cluster.waitForAll("every replica holds the first 20") { (try? $0.partitionLogEnd(events)) == 20 }
        // The leader published them on the replication topic: base offsets 0…19 in order, each
        // with the stored batch (leader epoch set).
        var published: [Int64] = []
        while published.count < 20, let message = try? sub.receiveMultipart() {
            XCTAssertEqual(message.count, 3)
            let header = try message[1].withUnsafeBytes { try Ganglion_V1_StreamBatchHeader(serializedBytes: Data($0)) }
            XCTAssertEqual(message[2].withUnsafeBytes { StoredBatch.leaderEpoch($0) }, state.leaderEpoch)
            published.append(header.baseOffset)
        }
        XCTAssertEqual(published, Array(0..<20), "the stream carried every batch, in order")

        // A follower misses the stream: stopped while writes go on (the ISR still has two).
        cluster.stop(follower)
        for index in 0..<20 { try await produce("missed-\(index)") }
        // Back, it subscribes late and fetches what it missed, then rejoins the ISR.
        try cluster.start(follower)
        try await cluster.waitForAll(seconds: 20, "the returning replica rejoins the ISR") { node in
            Set(node.metadataState.partitions["events"]?.first?.isr ?? []) == Set(cluster.voterIDs)
        }
        for index in 0..<20 { try await produce("after-\(index)") }
        let records = try await client.readAll(topic: "events", partition: 0)
        XCTAssertEqual(values(records), acknowledged, "every acknowledged record, once, in order")
        try await cluster.waitForAll("every replica holds every record") { node in
            (try? node.partitionLogEnd(events)) == Int64(acknowledged.count)
        }
    }
    /// With security on, a replication stream is the nodes' alone: a super user (who may read
    /// every topic) subscribing to it gets nothing, while a subscriber with the cluster's key
    /// (principal `node`) gets the batches the followers copy.
    func testOnlyNodesGetTheReplicationStreamOfASecuredCluster() async throws {
        let clusterKeys = try CurveKeyPair.generate(), admin = try CurveKeyPair.generate()
        let cluster = try await streamCluster { configuration in
            configuration.security = NodeSecurity(clusterKeys: clusterKeys, superUsers: ["admin": admin.publicKey])
        }
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15),
                                        credentials: CurveClientCredentials(keys: admin, serverKey: clusterKeys.publicKey))
        defer { client.close() }
        _ = try await client.createTopic("events", partitions: 1)
        try await cluster.waitForAll("events placed") { $0.metadataState.partitions["events"]?.first?.leader != nil }
        let leader = try XCTUnwrap(cluster.nodes.values.first?.metadataState.partitions["events"]?.first?.leader)
        let pub = try XCTUnwrap(cluster.nodes[leader]).endpoints.pub
        let events = TopicPartition("events", 0)

        let context = try Context()
        func subscriber(_ keys: CurveKeyPair) throws -> Socket {
            let sub = try Socket(.sub, context: context)
            try sub.set(CurveClientCredentials(keys: keys, serverKey: clusterKeys.publicKey).socketOptions)
            try sub.subscribe(StreamTopic.replicationFrame(for: events))
            try sub.connect(pub)
            return sub
        }
        let intruder = try subscriber(admin), node = try subscriber(clusterKeys)
        defer { intruder.close(); node.close() }
        try await Task.sleep(for: .milliseconds(500))  // the subscriptions reach the leader

        for index in 0..<5 {
            var batch = RecordBatchBuilder()
            batch.append(key: nil, value: Array("e\(index)".utf8), timestamp: 0)
            _ = try await client.produce(topic: "events", partition: 0, batch: batch.build(), timeout: .seconds(15))
        }
        try node.set(.receiveTimeout(.seconds(5)))
        let copied = try node.receiveMultipart()
        XCTAssertEqual(copied.first?.bytes, StreamTopic.replicationFrame(for: events), "the node-keyed subscriber got the replication stream")
        try intruder.set(.receiveTimeout(.seconds(1)))
        XCTAssertThrowsError(try intruder.receiveMultipart(), "a super user that is not a node got a replication stream message")
    }
    /// An idle partition is no fallback: a follower on the stream checks a silent leader with a
    /// fetch every half second, and only a check that finds batches it missed counts as one.
    func testAnIdleStreamCountsNoFallbacks() async throws {
        let metrics = TestMetricsBackend.shared
        let cluster = try await streamCluster()
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        _ = try await client.createTopic("quiet", partitions: 1)
        var batch = RecordBatchBuilder()
        batch.append(key: nil, value: Array("one".utf8), timestamp: 0)
        _ = try await client.produce(topic: "quiet", partition: 0, batch: batch.build(), timeout: .seconds(15))
        try await cluster.waitForAll("every replica holds it") { (try? $0.partitionLogEnd(TopicPartition("quiet", 0))) == 1 }
        let label = "ganglion_replication_stream_fallbacks_total"
        let before = metrics.counterTotal(label: label, dimensions: [("reason", "silence")])
        try await Task.sleep(for: .seconds(2))  // four silences per follower
        let after = metrics.counterTotal(label: label, dimensions: [("reason", "silence")])
        XCTAssertEqual(after - before, 0, "an idle partition counted \(after - before) silence fallbacks in 2 s")
    }
    /// A follower back from a stop while a quiet partition took a backlog of several MiB copies it
    /// by fetching one answer after another — not one fetch per half-second silence of a stream
    /// that has nothing to carry (1 MiB per 500 ms) — and is back in the ISR within seconds.
    func testAFollowerCatchesUpABacklogOfAQuietPartitionByFetchingOnAndOn() async throws {
        let cluster = try await streamCluster { configuration in
            configuration.controller.nodeSessionTimeout = .milliseconds(1_500)
            configuration.controller.nodeHeartbeat = .milliseconds(300)
        }
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        _ = try await client.createTopic("backlog", partitions: 1)
        try await cluster.waitForAll("backlog placed") { $0.metadataState.partitions["backlog"]?.first?.leader != nil }
        let state = try XCTUnwrap(cluster.nodes.values.first?.metadataState.partitions["backlog"]?.first)
        let leader = try XCTUnwrap(state.leader)
        // (Not v1: the client's node stays up.)
        let follower = try XCTUnwrap(state.replicas.first { $0 != leader && $0 != "v1" })
        let key = TopicPartition("backlog", 0)

        cluster.stop(follower)
        // 12 MiB in 48 batches of four 64 KiB records, then nothing more.
        let value = [UInt8](repeating: 0x61, count: 64 << 10)
        for _ in 0..<48 {
            var batch = RecordBatchBuilder()
            for _ in 0..<4 { batch.append(key: nil, value: value, timestamp: 0) }
            _ = try await client.produce(topic: "backlog", partition: 0, batch: batch.build(), timeout: .seconds(15))
        }
        let end: Int64 = 48 * 4
        let started = ContinuousClock.now
        try cluster.start(follower)
        try await cluster.waitForAll(seconds: 3, "the returning replica holds the whole backlog") { (try? $0.partitionLogEnd(key)) == end }
        try await cluster.waitForAll(seconds: 3, "the returning replica rejoins the ISR") { node in
            Set(node.metadataState.partitions["backlog"]?.first?.isr ?? []) == Set(cluster.voterIDs)
        }
        print("caught up 12 MiB and rejoined the ISR in \(ContinuousClock.now - started)")
    }
}
