import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// A node joining a running cluster takes its share of the existing replicas and leaderships
/// (``ReplicaBalance``), on real nodes over loopback sockets, while `acks=all` writes go on: the
/// checker keeps what was acknowledged and reads every partition back at the end. (The rules and
/// their seeded simulation through crashes and partitions are in ClusterCoreTests.)
final class ReplicaBalanceClusterTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-balance-\(UUID().uuidString)"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Writes acknowledged by the cluster: partition → (offset, value).
    actor Acknowledged {
        var records: [UInt32: [(offset: Int64, value: String)]] = [:]
        func add(_ partition: UInt32, _ offset: Int64, _ value: String) { records[partition, default: []].append((offset, value)) }
    }

    func testAJoiningNodeTakesItsShareOfReplicasAndLeadershipsAndNothingAcknowledgedIsLost() async throws {
        let cluster = try TestCluster(voters: 3, observers: 1, root: directory) { configuration in
            configuration.controller.nodeSessionTimeout = .milliseconds(1_500)
            configuration.controller.nodeHeartbeat = .milliseconds(300)
        }
        defer { cluster.stopAll() }
        cluster.stop("o1")
        _ = try await cluster.agreedLeader()
        try await cluster.waitForAll("the voters alive, the observer not") { node in
            let nodes = node.metadataState.nodes
            return cluster.voterIDs.allSatisfy { nodes[$0]?.state == .alive } && nodes["o1"].map { $0.state != .alive } ?? true
        }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        let partitions: UInt32 = 6
        _ = try await client.createTopic("moved", partitions: partitions, replicationFactor: 2)
        try await cluster.waitForAll("moved placed on the voters") { node in
            let states = node.metadataState.partitions["moved"] ?? []
            return states.count == Int(partitions) && states.allSatisfy { $0.leader != nil && !$0.replicas.contains("o1") }
        }
        let before = try XCTUnwrap(cluster.nodes["v1"]?.metadataState.partitions["moved"])

        // acks=all writes to every partition, all along.
        let acknowledged = Acknowledged()
        let writer = Task {
            var sequence = 0
            while !Task.isCancelled {
                sequence += 1
                let partition = UInt32(sequence) % partitions, value = "w\(sequence)"
                var batch = RecordBatchBuilder()
                batch.append(key: nil, value: Array(value.utf8), timestamp: 0)
                if let offset = try? await client.produce(topic: "moved", partition: partition, batch: batch.build(), timeout: .seconds(5)) {
                    await acknowledged.add(partition, offset, value)
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        try await Task.sleep(for: .milliseconds(500))

        // The observer joins: replicas (and leaderships with them) move to it until balanced.
        try cluster.start("o1")
        let balanced: ([PartitionState]) -> Bool = { states in
            let all = cluster.ids.map { id in states.filter { $0.replicas.contains(id) }.count }
            return states.allSatisfy { $0.removing == nil && $0.isr.count == $0.replicas.count } && all.max()! - all.min()! <= 1
        }
        try await cluster.waitForAll(seconds: 90, "every topic's replicas balanced over the four nodes") { node in
            let states = node.metadataState.partitions.values.flatMap { $0 }
            return node.metadataState.nodes["o1"]?.state == .alive && balanced(states)
        }
        try await Task.sleep(for: .milliseconds(500))
        writer.cancel()
        _ = await writer.result

        let after = try XCTUnwrap(cluster.nodes["v1"]?.metadataState.partitions["moved"])
        XCTAssertTrue(after.contains { $0.replicas.contains("o1") }, "the new node holds replicas of the existing topic: \(after)")
        let everything = try XCTUnwrap(cluster.nodes["v1"]?.metadataState.partitions.values.flatMap { $0 })
        XCTAssertTrue(everything.contains { $0.leader == "o1" }, "and leads some partitions")
        XCTAssertTrue(after.allSatisfy { $0.replicas.count == 2 }, "the replication factor is kept: \(after)")

        // Every acknowledged write is where it was acknowledged, once; read through the new node.
        let reader = try GanglionClient(endpoint: cluster.api("o1"), timeout: .seconds(15))
        defer { reader.close() }
        let written = await acknowledged.records
        XCTAssertGreaterThan(written.values.map(\.count).reduce(0, +), 50, "writes were acknowledged throughout")
        for partition in 0..<partitions {
            let records = try await reader.readAll(topic: "moved", partition: partition)
            let values = records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
            XCTAssertEqual(Set(values).count, values.count, "duplicated: partition \(partition) holds a value twice")
            let byOffset = Dictionary(records.map { ($0.offset, String(decoding: $0.value ?? [], as: UTF8.self)) }, uniquingKeysWith: { first, _ in first })
            for (offset, value) in written[partition] ?? [] {
                XCTAssertEqual(byOffset[offset], value, "lost: \(value) acknowledged at moved-\(partition)@\(offset)")
            }
        }
        // A node a replica moved off deletes its copy.
        for (index, state) in before.enumerated() {
            let current = after[index]
            for node in state.replicas where !current.replicas.contains(node) {
                let path = directory + "/\(node)/topics/moved-\(index)"
                let deadline = Date(timeIntervalSinceNow: 10)
                while FileManager.default.fileExists(atPath: path) && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
                XCTAssertFalse(FileManager.default.fileExists(atPath: path), "\(node) still holds moved-\(index) after it moved off")
            }
        }
    }
}
