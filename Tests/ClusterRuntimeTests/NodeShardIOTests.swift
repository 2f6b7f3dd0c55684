import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import XCTest

/// A shard's reads and writes on the node's own logs: an outbox of any size goes out in batches
/// the log takes, in order per partition; a record is read back at its offset.
final class NodeShardIOTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-node-io-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testALargeOutboxIsSentInBatchesTheLogTakes() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("out", partitions: 1)
        try await client.createTopic("agent.changelog.in", partitions: 1, compacted: true)
        let io = NodeShardIO(node: node, changelogTopic: "agent.changelog.in")
        // 2 500 small events and 12 of 900 KB: far past one batch's 8 MiB and 1 000-record bounds.
        let small = (0..<2_500).map { OutgoingEvent(topic: "out", key: Array("k".utf8), value: Array("event-\($0)".utf8), createIfMissing: false) }
        let large = (0..<12).map { OutgoingEvent(topic: "out", key: Array("k".utf8), value: [UInt8](repeating: UInt8($0), count: 900_000), createIfMissing: false) }
        try await io.send(small + large)
        let stored = try await client.readAll(topic: "out")
        XCTAssertEqual(stored.count, 2_512)
        XCTAssertEqual(stored.prefix(2_500).map { String(decoding: $0.value ?? [], as: UTF8.self) }, (0..<2_500).map { "event-\($0)" }, "in order")
        XCTAssertEqual(stored.suffix(12).map { $0.value?.first }, (0..<12).map { UInt8($0) })

        // A topic that does not exist (and is not to be made) is reported as such, nothing sent.
        do {
            try await io.send([OutgoingEvent(topic: "out", key: nil, value: [7], createIfMissing: false),
                               OutgoingEvent(topic: "outt", key: nil, value: [8], createIfMissing: false)])
            XCTFail("an unknown topic is refused")
        } catch ShardIOError.unknownTopic(let topic, let stored) {
            XCTAssertEqual(topic, "outt")
            XCTAssertEqual(stored, 0)
        }
        let afterRefusal = try await client.readAll(topic: "out")
        XCTAssertEqual(afterRefusal.count, 2_512, "nothing of the refused send was stored")

        // A shadow's topic is made when absent.
        try await io.send([OutgoingEvent(topic: "shadow.t.out", key: nil, value: [1], createIfMissing: true)])
        let shadow = try await client.readAll(topic: "shadow.t.out")
        XCTAssertEqual(shadow.count, 1)

        // The changelog: appended, read from an offset, one record read back at its offset.
        var batch = RecordBatchBuilder()
        for index in 0..<5 { batch.append(key: Array("s\u{0}k\(index)".utf8), value: [UInt8(index)], timestamp: 1) }
        let base = try await io.appendChangelog(partition: 0, batch: batch.build())
        let tail = try await io.readChangelog(partition: 0, from: base + 2)
        XCTAssertEqual(tail.map(\.offset), [base + 2, base + 3, base + 4])
        let records = try await io.changelogRecords(partition: 0, at: base + 3)
        XCTAssertEqual(records.map(\.value), [[3], [4]])
        do {
            _ = try await io.changelogRecords(partition: 0, at: base + 99)
            XCTFail("an offset past the end is refused")
        } catch let error as NodeError {
            XCTAssertEqual(error.code, .offsetOutOfRange)
        }
    }
}
