import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// `ganglion group describe` shows every partition the group's members hold, committed or not:
/// a member that has not committed a partition yet (a new consumer working through a backlog,
/// or one that is stuck) is the one an operator looks for.
final class GroupDescribeCommandTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-group-describe-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testAssignedPartitionsWithoutACommitAreListedWithTheirEnd() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("orders", partitions: 3)
        var batch = RecordBatchBuilder()
        batch.append(key: nil, value: [1], timestamp: 1)
        batch.append(key: nil, value: [2], timestamp: 1)
        _ = try await client.produce(topic: "orders", partition: 1, batch: batch.build())

        // One member holds all three partitions and commits only partition 0.
        var heartbeat = Ganglion_V1_GroupHeartbeatRequest()
        heartbeat.group = "billing"
        heartbeat.subscribedTopics = ["orders"]
        let joined = try await client.call(.groupHeartbeat, heartbeat, reply: Ganglion_V1_GroupHeartbeatResponse.self).0
        XCTAssertEqual(joined.assignment.flatMap(\.partitions).count, 3)
        var commit = Ganglion_V1_OffsetCommitRequest()
        commit.group = "billing"
        commit.memberID = joined.memberID
        commit.memberEpoch = joined.memberEpoch
        var offset = Ganglion_V1_PartitionOffset()
        offset.topic = "orders"
        offset.partition = 0
        offset.offset = 0
        commit.offsets = [offset]
        let committed = try await client.call(.offsetCommit, commit, reply: Ganglion_V1_OffsetCommitResponse.self).0
        XCTAssertEqual(committed.errors.first?.error, Ganglion_V1_ErrorCode.none)

        let (status, output) = try runProcess(try ganglionExecutable(self), ["group", "describe", "billing", "--node", node.endpoints.api])
        XCTAssertEqual(status, 0, output)
        let rows = output.split(separator: "\n").filter { $0.hasPrefix("orders-") }.map(String.init)
        XCTAssertEqual(rows, ["orders-0\t0\t0\t0", "orders-1\t-\t2\t-", "orders-2\t-\t0\t-"], output)
    }

    /// In a cluster, each partition's end comes from its leader, wherever it is: the node asked
    /// holds no replica of most partitions of a topic with one replica each, and its own view of
    /// their ends (none) made every lag 0.
    func testLagInAClusterIsMeasuredFromEachPartitionsLeader() async throws {
        let cluster = try await TestCluster.withGroups(root: directory)
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        let leaders = try await cluster.singleReplicaTopic("orders", client: client) { _ in 3 }
        XCTAssertGreaterThan(Set(leaders).count, 1, "the partitions are led by more than one node: \(leaders)")
        // A member holds all three partitions and commits offset 1 of each: 2 behind.
        let consumer = GroupConsumer(client: try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15)), group: "billing", topics: ["orders"])
        defer { Task { await consumer.close() } }
        var seen: Set<UInt32> = []
        for try await batch in consumer.batches {
            for delivered in batch where delivered.record.offset == 0 && !seen.contains(delivered.partition) {
                seen.insert(delivered.partition)
                try await consumer.commit(delivered)
            }
            if seen.count == 3 { break }
        }
        let (status, output) = try runProcess(try ganglionExecutable(self), ["group", "describe", "billing", "--node", cluster.api("v1")])
        XCTAssertEqual(status, 0, output)
        let rows = output.split(separator: "\n").filter { $0.hasPrefix("orders-") }.map(String.init)
        XCTAssertEqual(rows, ["orders-0\t1\t3\t2", "orders-1\t1\t3\t2", "orders-2\t1\t3\t2"], output)

        // A node leading one partition dies (its only replica): that partition's end is unknown,
        // and the others' are still filled in.
        await consumer.close()
        let gone = try XCTUnwrap(leaders.first { $0 != "v1" })
        cluster.kill(gone)
        var described = Ganglion_V1_DescribeGroupResponse()
        for _ in 0..<200 {
            if let answer = try? await client.describeGroup("billing"), answer.lag.count == 3,
               answer.lag.contains(where: { $0.highWatermark < 0 }) {
                described = answer
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let ends = described.lag.map(\.highWatermark), expected = leaders.map { $0 == gone ? Int64(-1) : 3 }
        XCTAssertEqual(ends, expected, "the partition led by \(gone) unknown, the rest from their leaders")
    }
}
