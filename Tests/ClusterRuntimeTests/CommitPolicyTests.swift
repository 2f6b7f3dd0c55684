import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Automatic commits: what the application finished is committed on close and before a partition
/// moves in a rebalance, so the next owner resumes right after it.
final class CommitPolicyTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-commits-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func produce(_ client: GanglionClient, partition: UInt32, count: Int) async throws {
        var builder = RecordBatchBuilder()
        for index in 0..<count { builder.append(key: nil, value: Array("\(partition)-\(index)".utf8), timestamp: 1) }
        try await client.produce(topic: "jobs", partition: partition, batch: builder.build())
    }

    private func committed(_ client: GanglionClient) async throws -> [Int64] {
        try await client.describeGroup("workers").lag.map(\.committedOffset)
    }

    func testFinishedRecordsAreCommittedOnCloseAndBeforeAPartitionMoves() async throws {
        let node = try startTestNode(directory) { $0.groupSessionTimeout = 5000 }
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("jobs", partitions: 1)
        try await produce(client, partition: 0, count: 100)

        // 30 records handed out; the 30th was never finished (no next() after it).
        let first = GroupConsumer(client: try GanglionClient(endpoint: node.endpoints.api), group: "workers", topics: ["jobs"],
                                  commitPolicy: .automatic(interval: .seconds(60)))
        var seen = 0
        for try await _ in first.records {
            seen += 1
            if seen == 30 { break }
        }
        await first.close()
        let afterClose = try await committed(client)
        XCTAssertEqual(afterClose, [29])

        // Two partitions now: a member that finished everything hands one partition to a new
        // member, committed up to where it finished, before the move.
        try await client.deleteTopic("jobs")
        let forgotten = try await committed(client)
        XCTAssertEqual(forgotten, [], "deleting a topic forgets the groups' offsets on it")
        try await client.createTopic("jobs", partitions: 2)
        try await produce(client, partition: 0, count: 50)
        try await produce(client, partition: 1, count: 50)
        let owner = GroupConsumer(client: try GanglionClient(endpoint: node.endpoints.api), group: "workers", topics: ["jobs"],
                                  commitPolicy: .automatic(interval: .seconds(60)))
        let counter = Counter()
        let reader = Task {
            for try await _ in owner.records { await counter.add() }
        }
        while await counter.value < 100 { try await Task.sleep(for: .milliseconds(10)) }
        let newcomer = GroupConsumer(client: try GanglionClient(endpoint: node.endpoints.api), group: "workers", topics: ["jobs"])
        var moved: Set<TopicPartition> = []
        for _ in 0..<300 where moved.isEmpty {
            moved = await newcomer.assignment
            if moved.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        }
        XCTAssertEqual(moved.count, 1, "one partition moved to the newcomer")
        let partition = try XCTUnwrap(moved.first)
        try await produce(client, partition: UInt32(partition.partition), count: 1)
        var newcomerRecords = newcomer.records.makeAsyncIterator()
        let firstMoved = try await newcomerRecords.next()
        XCTAssertEqual(firstMoved?.record.offset, 50, "the newcomer resumes right after what the owner finished")
        reader.cancel()
        await newcomer.close()
        await owner.close()
    }
}

/// Counts records across tasks.
private actor Counter {
    private(set) var value = 0
    func add() { value += 1 }
}
