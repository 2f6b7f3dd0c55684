import ClusterRuntime
import Foundation
import Ganglion
import XCTest

/// `ganglion topic describe` in a cluster: each partition's offsets and size come from its
/// leader, and where no leader answers they show as unknown, not as an empty partition.
final class TopicDescribeCommandTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-topic-describe-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// The node asked holds no replica of a partition whose only replica is down: it answered
    /// its own view, offsets 0 and 0 bytes, which reads as a partition with nothing in it.
    func testAPartitionWithoutALeaderShowsItsOffsetsAsUnknown() async throws {
        let cluster = try await TestCluster.withGroups(root: directory)
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        let leaders = try await cluster.singleReplicaTopic("orders", client: client) { _ in 3 }
        let gone = try XCTUnwrap(leaders.first { $0 != "v1" }, "a partition led by another node than the one asked: \(leaders)")
        cluster.kill(gone)
        try await cluster.waitForAll(seconds: 10, "\(gone)'s partition has no leader") { node in
            node.metadataState.partitions["orders"]?.allSatisfy { $0.leader != gone } == true
        }

        let (status, output) = try runProcess(try ganglionExecutable(self), ["topic", "describe", "orders", "--node", cluster.api("v1")])
        XCTAssertEqual(status, 0, output)
        let rows = output.split(separator: "\n").dropFirst(2).map { $0.split(separator: "\t").map(String.init) }
        XCTAssertEqual(rows.count, 3, output)
        for (row, leader) in zip(rows, leaders) {
            // partition, leader, replicas, isr, leader-epoch, log-start, high-watermark, bytes
            XCTAssertEqual(row.count, 8, output)
            if leader == gone {
                XCTAssertEqual(Array(row[5...]), ["-", "-", "-"], "the partition on \(gone) is unknown, not empty: \(output)")
                XCTAssertEqual(row[1], "none", output)
            } else {
                XCTAssertEqual(Array(row[5...6]), ["0", "3"], "the partition led by \(leader), from its leader: \(output)")
            }
        }
    }

    /// `cluster status --json` reports each partition's high watermark as the answering node holds
    /// it: null, not -1 or 0, where it holds no replica.
    func testClusterStatusShowsAHighWatermarkTheNodeCannotKnowAsNull() async throws {
        let cluster = try await TestCluster.withGroups(root: directory)
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        let leaders = try await cluster.singleReplicaTopic("orders", client: client) { _ in 3 }
        XCTAssertTrue(leaders.contains { $0 != "v1" }, "a partition v1 holds no replica of: \(leaders)")

        let (status, output) = try runProcess(try ganglionExecutable(self), ["cluster", "status", "--json", "--node", cluster.api("v1")])
        XCTAssertEqual(status, 0, output)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        let topics = try XCTUnwrap(object["topics"] as? [[String: Any]], output)
        let partitions = try XCTUnwrap(topics.first { $0["name"] as? String == "orders" }?["partitions"] as? [[String: Any]], output)
        XCTAssertEqual(partitions.count, 3, output)
        for (partition, leader) in zip(partitions, leaders) {
            if leader == "v1" {
                XCTAssertEqual(partition["highWatermark"] as? Int, 3, "\(partition)")
            } else {
                XCTAssertTrue(partition["highWatermark"] is NSNull, "a partition led by \(leader): \(partition)")
            }
        }
    }
}
