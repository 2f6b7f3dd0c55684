import ClusterRuntime
import Foundation
import Ganglion
import XCTest

/// `ganglion cluster status` for a person: every table's columns are as wide as their widest
/// cell, so a long topic name (an agent's changelog) or endpoint is printed whole, apart from the
/// column after it.
final class ClusterStatusCommandTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-status-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testLongTopicNamesArePrintedWholeInTheirOwnColumn() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        let long = "fraud-detection.changelog.transactions"
        try await client.createTopic(long, partitions: 2)
        try await client.createTopic("short", partitions: 1)
        let (code, output) = try runProcess(try ganglionExecutable(self), ["cluster", "status", "--node", node.endpoints.api])
        XCTAssertEqual(code, 0, output)
        let lines = output.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("TOPIC") }, output)
        let rows = lines[(header + 1)...].prefix { !$0.isEmpty }.map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        XCTAssertEqual(rows.map { $0.first ?? "" }, [long, long, "short"], output)
        XCTAssertEqual(rows.map { $0.count > 1 ? $0[1] : "" }, ["0", "1", "0"], "the partition column: " + output)
        let nodeRow = try XCTUnwrap(lines.first { $0.hasPrefix("node-") }, output)
        XCTAssertTrue(nodeRow.contains(node.endpoints.api + " "), "the API endpoint whole, then a space: " + nodeRow)
    }
}
