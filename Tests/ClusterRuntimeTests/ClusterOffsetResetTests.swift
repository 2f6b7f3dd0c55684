import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Offset resets in a cluster move a group to each partition's own start, end or time, read
/// from the node that leads it — not from the coordinator's view of partitions it holds no
/// replica of (there it saw empty logs: --to-latest went back to 0 and the group would have
/// processed everything again).
final class ClusterOffsetResetTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-cluster-reset-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testResetsUseEachPartitionsOwnOffsetsWhereverItIsLed() async throws {
        let cluster = try await TestCluster.withGroups(root: directory)
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        // Partition p holds 4 + p records at times 1000, 2000, …
        let leaders = try await cluster.singleReplicaTopic("orders", client: client) { 4 + Int($0) }
        XCTAssertEqual(Set(leaders).count, 3, "one partition per node: \(leaders)")
        // The group's coordinator holds no replica of two of the three partitions.
        let latest = try await client.resetOffsets(group: "billing", topic: "orders", to: .latest)
        XCTAssertEqual(latest.map(\.offset), [4, 5, 6], "each partition's end")
        let committed = try await client.describeGroup("billing").lag.map(\.committedOffset)
        XCTAssertEqual(committed, [4, 5, 6])
        let shifted = try await client.resetOffsets(group: "billing", topic: "orders", to: .shift(-2))
        XCTAssertEqual(shifted.map(\.offset), [2, 3, 4])
        let byTime = try await client.resetOffsets(group: "billing", topic: "orders", to: .timestamp(3_000))
        XCTAssertEqual(byTime.map(\.offset), [2, 2, 2])
        let clamped = try await client.resetOffsets(group: "billing", topic: "orders", to: .offset(5))
        XCTAssertEqual(clamped.map(\.offset), [4, 5, 5], "clamped to each partition's end")
        let earliest = try await client.resetOffsets(group: "billing", topic: "orders", to: .earliest)
        XCTAssertEqual(earliest.map(\.offset), [0, 0, 0])
        // No node made a log of a partition it holds no replica of.
        for id in cluster.voterIDs {
            let made = try FileManager.default.contentsOfDirectory(atPath: cluster.root + "/" + id + "/topics").filter { $0.hasPrefix("orders-") }
            XCTAssertEqual(made.count, 1, "node \(id) holds one partition of orders: \(made)")
        }
    }

    /// The lag gauge (ganglion_group_lag_records) of every committed partition is reported by the
    /// group's coordinator, also for partitions it holds no replica of (their ends asked of their
    /// leaders): /metrics showed no lag at all for most partitions of a cluster's topics.
    func testTheLagGaugeCoversPartitionsLedByOtherNodes() async throws {
        let metrics = TestMetricsBackend.shared
        let cluster = try await TestCluster.withGroups(root: directory)
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        let topic = "gauged-" + UUID().uuidString.prefix(6).lowercased(), group = "watched-" + UUID().uuidString.prefix(6).lowercased()
        _ = try await cluster.singleReplicaTopic(topic, client: client) { 3 + Int($0) }
        _ = try await client.resetOffsets(group: group, topic: topic, to: .offset(1))
        func gauges() -> [Double?] {
            (0..<3).map { metrics.recorders(label: "ganglion_group_lag_records", dimensions: [("group", group), ("partition", "\(topic)-\($0)")]).first?.last?.1 }
        }
        // Reported every 5 s.
        for _ in 0..<120 where gauges() != [2, 3, 4] { try await Task.sleep(for: .milliseconds(100)) }
        XCTAssertEqual(gauges(), [2, 3, 4], "each partition's end less the committed offset 1")
    }
}
