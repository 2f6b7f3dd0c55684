import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// The Swift client against a real node: publishing events by key, and following a partition
/// live with gaps repaired by fetch — in order, nothing lost, nothing twice.
final class ClientStreamTests: XCTestCase {
    private var directory = ""
    private var node: Node?

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "ganglion-client-" + UUID().uuidString
        node = try startTestNode(directory) { $0.durability = .interval(.milliseconds(50)) }
    }

    override func tearDown() {
        node?.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func event(_ index: Int, key: String) -> EventEnvelope {
        var event = EventEnvelope()
        event.id = "evt-\(index)"
        event.source = "/tests"
        event.specVersion = EventEnvelope.cloudEventsSpecVersion
        event.type = "test.event"
        event.key = Data(key.utf8)
        event.data = Data("payload-\(index)".utf8)
        return event
    }

    func testEventsWithOneKeyLandInOnePartitionInOrder() async throws {
        let client = try GanglionClient(endpoint: node!.endpoints.api)
        defer { client.close() }
        try await client.createTopic("accounts", partitions: 4)
        let events = (0..<40).map { event($0, key: "account-\($0 % 3)") }
        let offsets = try await client.publish(topic: "accounts", events: events)
        for key in 0..<3 {
            let placed = offsets.enumerated().filter { $0.offset % 3 == key }.map(\.element)
            XCTAssertEqual(Set(placed.map(\.partition)).count, 1, "one key, one partition")
            XCTAssertEqual(placed.map(\.offset), placed.map(\.offset).sorted(), "in order")
        }
        do {
            try await client.createTopic("accounts", partitions: 4)
            XCTFail("a second create must fail")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .topicExists)
        }
    }

    func testASlowReaderWithATinyBufferGetsEveryRecordOnceInOrder() async throws {
        let client = try GanglionClient(endpoint: node!.endpoints.api)
        defer { client.close() }
        try await client.createTopic("stream", partitions: 1)
        // Some history before the stream starts, then live traffic while the reader dawdles.
        for index in 0..<50 { try await client.produce(topic: "stream", partition: 0, batch: Self.batch(index)) }
        let stream = try PartitionStream(client: client, pubEndpoint: node!.endpoints.pub, topic: "stream", partition: 0, from: 10,
                                         bufferedBatches: 4, pollInterval: .seconds(2))
        defer { stream.close() }
        let total = 1500
        async let producing: Void = Self.produce(client, from: 50, to: total)
        var received: [Int64] = []
        for try await delivered in stream.records() {
            received.append(delivered.record.offset)
            XCTAssertEqual(delivered.record.value, Array("v\(delivered.record.offset)".utf8))
            if received.count % 100 == 0 { try await Task.sleep(for: .milliseconds(50)) }  // slow reader
            if received.count == total - 10 { break }
        }
        try await producing
        XCTAssertEqual(received, Array(10..<Int64(total)), "every offset once, in order")
        print("slow reader: \(stream.gapsRepaired) gaps repaired by fetch")
    }

    func testAGapInTheLiveStreamIsRepairedByFetch() async throws {
        let client = try GanglionClient(endpoint: node!.endpoints.api)
        defer { client.close() }
        try await client.createTopic("gaps", partitions: 1)
        // No periodic poll: only a gap seen on the live stream can bring the dropped batches back.
        let stream = try PartitionStream(client: client, pubEndpoint: node!.endpoints.pub, topic: "gaps", partition: 0, from: 0,
                                         bufferedBatches: 4, pollInterval: .seconds(600))
        defer { stream.close() }
        try await Task.sleep(for: .milliseconds(300))  // subscribed
        func produce(_ index: Int) async throws {
            var builder = RecordBatchBuilder()
            builder.append(key: nil, value: Array("g\(index)".utf8), timestamp: 1)
            try await client.produce(topic: "gaps", partition: 0, batch: builder.build())
        }
        var records = stream.records().makeAsyncIterator()
        try await produce(0)
        var received = [try await records.next()!.record.offset]
        // Caught up: the next read finds nothing to fetch and waits on the live stream.
        async let pending = Self.produceLater(client, index: 1)
        received.append(try await records.next()!.record.offset)
        try await pending
        // The reader stalls while 20 batches arrive: the 4-batch buffer keeps the oldest, drops the rest.
        for index in 2...21 { try await produce(index) }
        try await Task.sleep(for: .milliseconds(300))
        for _ in 0..<3 { received.append(try await records.next()!.record.offset) }
        XCTAssertEqual(stream.gapsRepaired, 0)
        // A later live batch starts beyond what the reader has: a gap, repaired by fetch.
        try await produce(22)
        while received.last! < 22 { received.append(try await records.next()!.record.offset) }
        XCTAssertEqual(received, Array(0...22), "every offset once, in order")
        XCTAssertEqual(stream.gapsRepaired, 1)
    }

    /// Produces one batch to `gaps` after a pause (so a reader is already waiting).
    static func produceLater(_ client: GanglionClient, index: Int) async throws {
        try await Task.sleep(for: .milliseconds(200))
        var builder = RecordBatchBuilder()
        builder.append(key: nil, value: Array("g\(index)".utf8), timestamp: 1)
        try await client.produce(topic: "gaps", partition: 0, batch: builder.build())
    }

    static func produce(_ client: GanglionClient, from start: Int, to end: Int) async throws {
        for index in start..<end { try await client.produce(topic: "stream", partition: 0, batch: batch(index)) }
    }

    /// A stream whose node is away longer than the client's timeout (a fetch fails, as when a
    /// leader stops and its connection drops) goes on once the node is back: it never ends
    /// silently on a failed fetch.
    func testAStreamOutlastsItsNodeBeingAwayLongerThanTheClientTimeout() async throws {
        node?.stop()
        let ports = try freeLoopbackPorts(2)
        let fixed: (inout NodeConfiguration) -> Void = { configuration in
            configuration.durability = .interval(.milliseconds(50))
            configuration.apiEndpoint = "tcp://127.0.0.1:\(ports[0])"
            configuration.pubEndpoint = "tcp://127.0.0.1:\(ports[1])"
        }
        node = try startTestNode(directory, fixed)
        let client = try GanglionClient(endpoint: node!.endpoints.api, timeout: .milliseconds(800))
        defer { client.close() }
        try await client.createTopic("away", partitions: 1)
        for index in 0..<5 { try await client.produce(topic: "away", partition: 0, batch: Self.batch(index)) }
        let stream = try PartitionStream(client: client, pubEndpoint: node!.endpoints.pub, topic: "away", partition: 0, from: 0)
        defer { stream.close() }
        let reader = Task {
            var values: [String] = []
            for try await delivered in stream.records() {
                values.append(String(decoding: delivered.record.value ?? [], as: UTF8.self))
                if values.count == 10 { break }
            }
            return values
        }
        try await Task.sleep(for: .milliseconds(500))
        node?.stop()
        try await Task.sleep(for: .milliseconds(2_500))
        node = try startTestNode(directory, fixed)
        for index in 5..<10 { try await client.produce(topic: "away", partition: 0, batch: Self.batch(index)) }
        let watchdog = Task {
            try await Task.sleep(for: .seconds(10))
            reader.cancel()
        }
        defer { watchdog.cancel() }
        do {
            let values = try await reader.value
            XCTAssertEqual(values, (0..<10).map { "v\($0)" })
        } catch {
            XCTFail("the stream ended on \(error) instead of waiting for its node")
        }
    }

    static func batch(_ index: Int) -> [UInt8] {
        var builder = RecordBatchBuilder()
        builder.append(key: nil, value: Array("v\(index)".utf8), timestamp: 1)
        return builder.build()
    }
}

/// Long-poll fetches wait for records instead of spinning.
final class LongPollFetchTests: XCTestCase {
    func testAFetchWaitsForTheNextAppendOrItsDeadline() async throws {
        let directory = NSTemporaryDirectory() + "ganglion-longpoll-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("wait", partitions: 1)

        var request = Ganglion_V1_FetchRequest()
        request.topic = "wait"
        request.offset = 0
        request.maxBytes = 1 << 20
        request.maxWaitMs = 5000
        let started = ContinuousClock.now
        let waiting = request
        async let waited = client.call(.fetch, waiting, reply: Ganglion_V1_FetchResponse.self)
        try await Task.sleep(for: .milliseconds(200))
        try await client.produce(topic: "wait", partition: 0, batch: ClientStreamTests.batch(1))
        let (response, frames) = try await waited
        let elapsed = ContinuousClock.now - started
        XCTAssertEqual(response.nextOffset, 1)
        XCTAssertFalse(frames[0].isEmpty, "answered with the new record")
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(150))
        XCTAssertLessThan(elapsed, .seconds(3), "answered when the record came, not at the deadline")

        request.offset = 1
        request.maxWaitMs = 300
        let quiet = ContinuousClock.now
        let (empty, emptyFrames) = try await client.call(.fetch, request, reply: Ganglion_V1_FetchResponse.self)
        XCTAssertEqual(empty.nextOffset, 1)
        XCTAssertTrue(emptyFrames[0].isEmpty)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - quiet, .milliseconds(250), "waited until its deadline")
    }
}
