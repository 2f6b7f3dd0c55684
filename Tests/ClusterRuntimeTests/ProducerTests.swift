import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// The batching producer: linger batches, per-key order, a bounded buffer, flush, and a batch
/// whose outcome stayed unknown (the node was down) followed by an epoch bump.
final class ProducerTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-producer-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func stored(_ client: GanglionClient, _ topic: String) async throws -> [[Record]] {
        var partitions: [[Record]] = []
        for described in try await client.metadata(topics: [topic]).topics[0].partitions {
            partitions.append(try await client.readAll(topic: topic, partition: described.partition))
        }
        return partitions
    }

    func testConcurrentSendsAreBatchedAndKeepPerKeyOrder() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("orders", partitions: 4)
        let producer = try await Producer(client: client)
        let results = try await withThrowingTaskGroup(of: [RecordMetadata].self) { group in
            for key in 0..<8 {
                group.addTask {
                    var sent: [RecordMetadata] = []
                    // Sequential per key (each waits for its ack), concurrent across keys.
                    for index in 0..<50 { sent.append(try await producer.send(topic: "orders", key: Array("key-\(key)".utf8), value: Array("\(key):\(index)".utf8))) }
                    return sent
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(results.count, 8)
        for sent in results {
            XCTAssertEqual(Set(sent.map(\.partition)).count, 1, "one key, one partition")
            XCTAssertEqual(sent.map(\.offset), sent.map(\.offset).sorted(), "one key's records in send order")
        }
        // Unkeyed records fill batches: 2000 enqueued records take far fewer than 2000 batches.
        for index in 0..<2000 { try await producer.enqueue(topic: "orders", value: Array("free \(index)".utf8)) }
        try await producer.flush()
        let left = await producer.unacknowledged
        XCTAssertEqual(left, 0)
        let batches = await producer.batchesSent
        XCTAssertLessThan(batches, 400 + 200, "records share batches (got \(batches) batches for 2400 records)")
        let stored = try await stored(client, "orders")
        XCTAssertEqual(stored.map(\.count).reduce(0, +), 2400)
        for partition in stored {
            var last: [String: Int] = [:]
            for record in partition {
                let text = String(decoding: record.value ?? [], as: UTF8.self)
                guard !text.hasPrefix("free"), let colon = text.firstIndex(of: ":") else { continue }
                let key = String(text[..<colon]), index = Int(text[text.index(after: colon)...])!
                XCTAssertEqual(index, (last[key] ?? -1) + 1, "key \(key) stored in order without gaps or repeats")
                last[key] = index
            }
        }
    }

    /// More partitions than the node lets one client have produce requests waiting (its window,
    /// 1024 by default; 64 here): the producer keeps its batches in flight within its own bound,
    /// so none is refused as `busy` — with one attempt per batch, a refusal fails its records (the
    /// CLI's `publish` of 50 000 lines to a 2000-partition topic failed so once its retries ran out).
    func testBatchesInFlightStayWithinTheNodesWindow() async throws {
        let node = try startTestNode(directory) { $0.producerWindow = 64 }
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("wide", partitions: 300)
        var configuration = ProducerConfiguration()
        configuration.maxAttempts = 1
        configuration.maxInFlightBatches = 32
        let producer = try await Producer(client: client, configuration: configuration)
        for round in 0..<3 {
            let records = (0..<1200).map { (topic: "wide", key: Optional(Array("key-\(round)-\($0)".utf8)), value: Optional(Array("\($0)".utf8))) }
            let stored = try await producer.send(records)
            XCTAssertEqual(stored.count, 1200)
            XCTAssertGreaterThan(Set(stored.map(\.partition)).count, 64, "the records span more partitions than the node's window")
        }
        let total = try await stored(client, "wide").map(\.count).reduce(0, +)
        XCTAssertEqual(total, 3600)
    }

    /// A producer starting on many partitions of a topic at once looks the topic's routes up once,
    /// not once per partition: 1500 cold partitions asked for the metadata of a 1500-partition
    /// topic a few hundred times at once, and those asks (1 s each at most) ran out of time.
    func testAProducerStartingOnAWideTopicLooksItsRoutesUpOnce() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("wide", partitions: 1500)
        var configuration = ProducerConfiguration()
        configuration.maxAttempts = 1
        let producer = try await Producer(client: client, configuration: configuration)
        let records = (0..<6000).map { (topic: "wide", key: Optional(Array("key-\($0)".utf8)), value: Optional(Array("\($0)".utf8))) }
        let stored = try await producer.send(records)
        XCTAssertEqual(stored.count, 6000)
        XCTAssertGreaterThan(Set(stored.map(\.partition)).count, 1024)
    }

    func testABoundedBufferMakesSendersWait() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("tasks", partitions: 2)
        var configuration = ProducerConfiguration()
        configuration.maxBufferedRecords = 16
        configuration.maxBatchRecords = 8
        let producer = try await Producer(client: client, configuration: configuration)
        for index in 0..<5000 {
            try await producer.enqueue(topic: "tasks", key: Array("k\(index % 7)".utf8), value: Array("\(index)".utf8))
            let buffered = await producer.unacknowledged
            XCTAssertLessThanOrEqual(buffered, 16)
        }
        try await producer.flush()
        let total = try await stored(client, "tasks").map(\.count).reduce(0, +)
        XCTAssertEqual(total, 5000)
        do {
            try await producer.send(topic: "missing", value: [1])
            XCTFail("an unknown topic is refused")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .unknownTopic)
            XCTAssertTrue(error.message.contains("missing"), error.message)
        }
    }

    func testABatchKeepsItsOrderPerPartition() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("outbox", partitions: 3)
        let producer = try await Producer(client: client)
        // Two senders at once, each with one ordered batch over three keys (so three partitions).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for sender in ["a", "b"] {
                group.addTask {
                    let records = (0..<300).map { index in
                        (topic: "outbox", key: Optional(Array("key-\(index % 3)".utf8)), value: Optional(Array("\(sender):\(index)".utf8)))
                    }
                    let stored = try await producer.send(records)
                    XCTAssertEqual(stored.count, 300)
                }
            }
            try await group.waitForAll()
        }
        let partitions = try await stored(client, "outbox")
        for partition in partitions {
            var last: [String: Int] = [:]
            for record in partition {
                let text = String(decoding: record.value!, as: UTF8.self)
                let parts = text.split(separator: ":")
                let sender = String(parts[0]), index = Int(parts[1])!
                XCTAssertGreaterThan(index, last[sender] ?? -1, "\(text) stored after a later record of its batch")
                last[sender] = index
            }
        }
        XCTAssertEqual(partitions.map(\.count).reduce(0, +), 600)
    }

    /// A batch send hands over all it has: its partitions go at once instead of after the linger
    /// (which would only delay what its caller awaits).
    func testABatchSendDoesNotWaitForTheLinger() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("emitted", partitions: 3)
        var configuration = ProducerConfiguration()
        configuration.linger = .seconds(60)
        let producer = try await Producer(client: client, configuration: configuration)
        let records = (0..<30).map { index in
            (topic: "emitted", key: Optional(Array("key-\(index % 3)".utf8)), value: Optional(Array("\(index)".utf8)))
        }
        let started = ContinuousClock.now
        // The first of the send's outcome and a 20 s timeout (the send is not waited for after it).
        let (outcomes, outcome) = AsyncStream.makeStream(of: [RecordMetadata]?.self)
        Task { outcome.yield(try? await producer.send(records)) }
        let timeout = Task {
            try? await Task.sleep(for: .seconds(20))
            outcome.yield(nil)
        }
        var first = outcomes.makeAsyncIterator()
        let stored = await first.next() ?? nil
        timeout.cancel()
        let waited = ContinuousClock.now - started
        XCTAssertEqual(stored?.count, 30, "the batch send failed or was still waiting after \(waited) (the linger is 60 s)")
        XCTAssertEqual(Set(stored?.map(\.partition) ?? []).count, 3)
    }

    func testATopicRecreatedWithFewerPartitionsIsReadAgain() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("jobs", partitions: 8)
        let producer = try await Producer(client: client)
        // A key on a high partition under 8 partitions, and where it belongs under 2.
        let key = (0..<1000).map { Array("job-\($0)".utf8) }.first { KeyPartitioner.partition(for: $0, partitionCount: 8) >= 2 }!
        let expected = UInt32(KeyPartitioner.partition(for: key, partitionCount: 2))
        _ = try await producer.send(topic: "jobs", key: key, value: Array("before".utf8))
        try await client.deleteTopic("jobs")
        try await client.createTopic("jobs", partitions: 2)
        do {
            _ = try await producer.send(topic: "jobs", key: key, value: Array("lost".utf8))
            XCTFail("the stale partition is refused")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .unknownPartition, error.message)
        }
        // The refusal made the producer read the topic again: the key goes where it belongs now.
        let stored = try await producer.send(topic: "jobs", key: key, value: Array("after".utf8))
        XCTAssertEqual(stored.partition, expected)
        let values = try await client.readAll(topic: "jobs", partition: expected).compactMap { $0.value.map { String(decoding: $0, as: UTF8.self) } }
        XCTAssertEqual(values, ["after"])
    }

    func testAnUnknownOutcomeBumpsTheEpochAndNothingIsStoredTwice() async throws {
        var node = try startTestNode(directory)
        let api = node.endpoints.api, pub = node.endpoints.pub
        let client = try GanglionClient(endpoint: api, timeout: .milliseconds(300))
        defer { client.close() }
        try await client.createTopic("payments", partitions: 1)
        var configuration = ProducerConfiguration()
        configuration.maxAttempts = 2
        let producer = try await Producer(client: client, configuration: configuration)
        try await producer.send(topic: "payments", key: [1], value: Array("before".utf8))
        node.stop()
        do {
            try await producer.send(topic: "payments", key: [1], value: Array("while down".utf8))
            XCTFail("no node, no acknowledgement")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .timeout)
        }
        node = try startTestNode(directory) { $0.apiEndpoint = api; $0.pubEndpoint = pub }
        defer { node.stop() }
        let epochBefore = await producer.epoch
        let after = try await producer.send(topic: "payments", key: [1], value: Array("after".utf8))
        let epochAfter = await producer.epoch
        XCTAssertEqual(epochAfter, epochBefore + 1, "the unknown outcome restarted the sequences under a new epoch")
        let values = try await stored(client, "payments")[0].map { String(decoding: $0.value ?? [], as: UTF8.self) }
        // The timed-out batch may have reached the node later (the socket queued it): stored at
        // most once either way, and the batch after it exactly once.
        XCTAssertTrue(values == ["before", "after"] || values == ["before", "while down", "after"], "\(values)")
        XCTAssertEqual(after.offset, Int64(values.count - 1))
    }
}
