import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest
import ZeroMQ

/// Replicated partitions on real nodes in one process over loopback sockets: placement, acks=all
/// reaching every in-sync replica, failover to an in-sync replica with nothing acknowledged
/// lost, a returning replica catching up and rejoining the ISR, NOT_ENOUGH_REPLICAS.
/// (The same with separate processes, kill -9, pauses and cuts is in `cluster/`; the pure rules
/// and their seeded simulation in ClusterCoreTests.)
final class ReplicationTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-replication-\(UUID().uuidString)"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The key pairs of a secured test cluster: the cluster's and a super user's.
    private let keys = (cluster: try! CurveKeyPair.generate(), admin: try! CurveKeyPair.generate())

    private func cluster(secured: Bool = false) async throws -> TestCluster {
        let keys = self.keys
        let cluster = try TestCluster(voters: 3, root: directory) { configuration in
            configuration.controller.nodeSessionTimeout = .milliseconds(1_500)
            configuration.controller.nodeHeartbeat = .milliseconds(300)
            if secured { configuration.security = NodeSecurity(clusterKeys: keys.cluster, superUsers: ["admin": keys.admin.publicKey]) }
        }
        _ = try await cluster.agreedLeader()
        try await cluster.waitForAll("every node registered alive") { node in
            node.metadataState.nodes.count == 3 && node.metadataState.nodes.values.allSatisfy { $0.state == .alive }
        }
        return cluster
    }

    /// The partition states every running node agrees on.
    private func placed(_ topic: String, on cluster: TestCluster) -> [PartitionState]? {
        cluster.nodes.values.first?.metadataState.partitions[topic]
    }

    private func values(_ records: [Record]) -> [String] { records.map { String(decoding: $0.value ?? [], as: UTF8.self) } }

    func testATopicIsPlacedOnThreeNodesAndAcksAllReachesEveryReplica() async throws {
        let cluster = try await cluster()
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(10))
        defer { client.close() }
        let created = try await client.createTopic("orders", partitions: 3)
        XCTAssertEqual(created.config.replicationFactor, 3)
        XCTAssertEqual(created.config.minInsyncReplicas, 2)
        try await cluster.waitForAll("orders placed") { $0.metadataState.partitions["orders"]?.count == 3 }
        let states = try XCTUnwrap(placed("orders", on: cluster))
        // Leaders spread: each node leads one partition; every node holds every partition.
        XCTAssertEqual(Set(states.compactMap(\.leader)), ["v1", "v2", "v3"])
        XCTAssertTrue(states.allSatisfy { Set($0.replicas) == ["v1", "v2", "v3"] && Set($0.isr) == Set($0.replicas) })

        for partition in 0..<UInt32(3) {
            for index in 0..<20 {
                var batch = RecordBatchBuilder()
                batch.append(key: nil, value: Array("p\(partition)-\(index)".utf8), timestamp: 0)
                _ = try await client.produce(topic: "orders", partition: partition, batch: batch.build())
            }
        }
        // Acknowledged under acks=all: every replica's log already holds the batches durably;
        // each leader serves them to consumers.
        for partition in 0..<UInt32(3) {
            let records = try await client.readAll(topic: "orders", partition: partition)
            XCTAssertEqual(values(records), (0..<20).map { "p\(partition)-\($0)" })
        }
        try await cluster.waitForAll("every replica holds 20 records per partition") { node in
            (0..<Int32(3)).allSatisfy { (try? node.partitionLogEnd(TopicPartition("orders", $0))) == 20 }
        }
        let status = try await client.clusterStatus()
        // The cluster's own __consumer_offsets is listed too.
        XCTAssertEqual(status.topics.map(\.name), ["__consumer_offsets", "orders"])
        XCTAssertEqual(status.topics.last?.partitions.map { Set($0.inSyncReplicas).count }, [3, 3, 3])
    }

    func testALeaderThatStopsIsReplacedFromTheISRAndNothingAcknowledgedIsLost() async throws {
        try await leaderStopsAndReturns(secured: false)
    }

    /// The same with security on: every node-to-node path (Raft, replica fetches, the leader's
    /// ISR changes, forwards) runs over CURVE as the nodes' principal, the client as a super user.
    func testASecuredClusterFailsOverAndTheReturningReplicaRejoinsTheISR() async throws {
        try await leaderStopsAndReturns(secured: true)
    }

    private func leaderStopsAndReturns(secured: Bool) async throws {
        let cluster = try await cluster(secured: secured)
        defer { cluster.stopAll() }
        let credentials = secured ? CurveClientCredentials(keys: keys.admin, serverKey: keys.cluster.publicKey) : nil
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(10), credentials: credentials)
        defer { client.close() }
        _ = try await client.createTopic("events", partitions: 1)
        try await cluster.waitForAll("events placed") { $0.metadataState.partitions["events"]?.first?.leader != nil }
        let first = try XCTUnwrap(placed("events", on: cluster)?.first)
        let leader = try XCTUnwrap(first.leader)
        var acknowledged: [String] = []
        func produce(_ value: String, via client: GanglionClient) async throws {
            var batch = RecordBatchBuilder()
            batch.append(key: nil, value: Array(value.utf8), timestamp: 0)
            _ = try await client.produce(topic: "events", partition: 0, batch: batch.build(), timeout: .seconds(15))
            acknowledged.append(value)
        }
        let survivor = cluster.voterIDs.first { $0 != leader }!
        let other = try GanglionClient(endpoint: cluster.api(survivor), timeout: .seconds(15), credentials: credentials)
        defer { other.close() }
        for index in 0..<10 { try await produce("before-\(index)", via: other) }

        // The leader stops (a controlled shutdown: its leadership moves before it goes).
        cluster.stop(leader)
        try await cluster.waitForAll("a new leader from the ISR") { node in
            let state = node.metadataState.partitions["events"]?.first
            return state?.leader != nil && state?.leader != leader && (state?.leaderEpoch ?? 0) > first.leaderEpoch
        }
        for index in 0..<10 { try await produce("during-\(index)", via: other) }

        // It returns, catches up and rejoins the ISR; preferred leadership comes back to it.
        try cluster.start(leader)
        try await cluster.waitForAll(seconds: 20, "the returning replica rejoins the ISR") { node in
            Set(node.metadataState.partitions["events"]?.first?.isr ?? []) == Set(cluster.voterIDs)
        }
        for index in 0..<5 { try await produce("after-\(index)", via: other) }
        let records = try await other.readAll(topic: "events", partition: 0)
        XCTAssertEqual(values(records), acknowledged, "every acknowledged record, once, in order")
        try await cluster.waitForAll("every replica holds every record") { node in
            (try? node.partitionLogEnd(TopicPartition("events", 0))) == Int64(acknowledged.count)
        }
    }

    func testAcksAllIsRefusedWithFewerInSyncReplicasThanMinInSync() async throws {
        let cluster = try await cluster()
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(10))
        defer { client.close() }
        _ = try await client.createTopic("strict", partitions: 1, replicationFactor: 3, minInSync: 3)
        try await cluster.waitForAll("strict placed") { $0.metadataState.partitions["strict"]?.first?.leader != nil }
        let state = try XCTUnwrap(placed("strict", on: cluster)?.first)
        var batch = RecordBatchBuilder()
        batch.append(key: nil, value: Array("ok".utf8), timestamp: 0)
        _ = try await client.produce(topic: "strict", partition: 0, batch: batch.build())

        // A follower goes away: once the ISR has two members, acks=all writes are refused, and
        // an acks=leader write still lands (the risk it documents).
        let follower = state.replicas.first { $0 != state.leader && $0 != "v1" } ?? state.replicas.first { $0 != state.leader }!
        cluster.stop(follower)
        try await cluster.waitForAll("the ISR shrank") { $0.metadataState.partitions["strict"]?.first?.isr.count == 2 }
        do {
            _ = try await client.produce(topic: "strict", partition: 0, batch: batch.build())
            XCTFail("acks=all with 2 of min-insync 3 replicas in sync must be refused")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .notEnoughReplicas)
            XCTAssertTrue(error.message.contains("min-insync 3"), error.message)
        }
        _ = try await client.produce(topic: "strict", partition: 0, batch: batch.build(), acks: .leader)
    }

    func testATopicDeletedAndMadeAgainStartsEmptyOnEveryReplica() async throws {
        let cluster = try await cluster()
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(10))
        defer { client.close() }
        func produce(_ value: String) async throws {
            var batch = RecordBatchBuilder()
            batch.append(key: nil, value: Array(value.utf8), timestamp: 0)
            _ = try await client.produce(topic: "again", partition: 0, batch: batch.build())
        }
        _ = try await client.createTopic("again", partitions: 1)
        try await produce("old")
        try await cluster.waitForAll("every replica holds the old record") { (try? $0.partitionLogEnd(TopicPartition("again", 0))) == 1 }
        try await client.deleteTopic("again")
        _ = try await client.createTopic("again", partitions: 1)
        try await cluster.waitForAll("the new topic placed") { $0.metadataState.partitions["again"]?.first?.leader != nil }
        try await produce("new")
        let records = try await client.readAll(topic: "again", partition: 0)
        XCTAssertEqual(values(records), ["new"])
        try await cluster.waitForAll("every replica holds only the new record") { (try? $0.partitionLogEnd(TopicPartition("again", 0))) == 1 }
    }

    func testAReplicaThatMissedWritesTruncatesWhatTheNewLeaderNeverHad() throws {
        // A follower's log with a suffix of an old epoch the new leader never had: the fetch
        // answer says where the epoch ended, and the follower truncates there.
        let root = directory + "/divergence"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let leaderLog = try PartitionLog(directory: root + "/leader")
        let followerLog = try PartitionLog(directory: root + "/follower")
        defer { try? leaderLog.close(); try? followerLog.close() }
        func batch(_ value: String) -> [UInt8] {
            var builder = RecordBatchBuilder()
            builder.append(key: nil, value: Array(value.utf8), timestamp: 0)
            return builder.build()
        }
        for value in ["a", "b"] {
            try leaderLog.append(batch(value), leaderEpoch: 0)
            try followerLog.append(batch(value), leaderEpoch: 0)
        }
        try followerLog.append(batch("lost-suffix"), leaderEpoch: 0)  // never reached the new leader
        try leaderLog.append(batch("c"), leaderEpoch: 1)               // the new leader's epoch 1
        let divergence = try XCTUnwrap(leaderLog.endOffset(forLeaderEpoch: 0))
        XCTAssertEqual(divergence.endOffset, 2)
        XCTAssertLessThan(divergence.endOffset, followerLog.logEndOffset)
        try followerLog.truncate(to: divergence.endOffset)
        let read = try leaderLog.read(from: 2, maxBytes: 1 << 20)
        let done = expectation(description: "appended")
        try read.bytes.withUnsafeBytes { bytes in
            try followerLog.appendAsFollower(bytes) { result in
                XCTAssertEqual(try? result.get(), 3)
                done.fulfill()
            }
        }
        wait(for: [done], timeout: 10)
        XCTAssertEqual(try followerLog.records(from: 0).map { String(decoding: $0.value ?? [], as: UTF8.self) }, ["a", "b", "c"])
        XCTAssertEqual(followerLog.latestLeaderEpoch, 1)
        // A batch that does not continue the log is refused, naming the offsets.
        XCTAssertThrowsError(try read.bytes.withUnsafeBytes { try followerLog.appendAsFollower($0) { _ in } }) { error in
            XCTAssertTrue("\(error)".contains("does not continue the log"), "\(error)")
        }
    }
}
