import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import GanglionWire
import SwiftProtobuf
import XCTest
import ZeroMQ

/// A node over real sockets on loopback: topics, produce, fetch, the live stream, bad input,
/// and a restart that keeps everything acknowledged.
final class NodeTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-node-" + UUID().uuidString
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func startNode() throws -> Node {
        return try startTestNode(directory)
    }

    /// A blocking DEALER client speaking the protocol.
    final class Client {
        let socket: Socket
        var nextID: UInt64 = 1

        init(_ endpoint: String) throws {
            socket = try Socket(.dealer, context: try Context())
            try socket.set(.receiveTimeout(.seconds(10)))
            try socket.connect(endpoint)
        }

        func call<Body: SwiftProtobuf.Message>(_ kind: Ganglion_V1_RequestKind, _ body: Body, extra: [UInt8]? = nil) throws -> (Ganglion_V1_ResponseHeader, [Frame]) {
            var header = Ganglion_V1_RequestHeader()
            header.kind = kind
            header.requestID = nextID
            header.version = 1
            nextID += 1
            var frames = [Frame(try header.serializedBytes() as [UInt8]), Frame(try body.serializedBytes() as [UInt8])]
            if let extra { frames.append(Frame(extra)) }
            try socket.send(multipart: frames)
            let reply = try socket.receiveMultipart()
            let response = try reply[0].withUnsafeBytes { try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }
            XCTAssertEqual(response.requestID, header.requestID)
            return (response, Array(reply.dropFirst()))
        }

        func createTopic(_ name: String, partitions: UInt32) throws -> Ganglion_V1_ResponseHeader {
            var request = Ganglion_V1_CreateTopicRequest()
            request.name = name
            request.config.partitions = partitions
            return try call(.createTopic, request).0
        }

        func produce(_ topic: String, partition: UInt32, batch: [UInt8]) throws -> (Ganglion_V1_ResponseHeader, Int64) {
            var request = Ganglion_V1_ProduceRequest()
            request.topic = topic
            request.partition = partition
            request.acks = .leader
            let (header, frames) = try call(.produce, request, extra: batch)
            let offset = header.error == .none ? try frames[0].withUnsafeBytes { try Ganglion_V1_ProduceResponse(serializedBytes: Data($0)) }.baseOffset : -1
            return (header, offset)
        }

        func fetch(_ topic: String, partition: UInt32, offset: Int64) throws -> (Ganglion_V1_ResponseHeader, [Record]) {
            var request = Ganglion_V1_FetchRequest()
            request.topic = topic
            request.partition = partition
            request.offset = offset
            request.maxBytes = 1 << 20
            let (header, frames) = try call(.fetch, request)
            guard header.error == .none else { return (header, []) }
            return (header, try Self.records(frames[1].bytes))
        }

        static func records(_ bytes: [UInt8]) throws -> [Record] {
            try bytes.withUnsafeBytes { raw in
                var records: [Record] = [], position = 0
                while position < raw.count {
                    let header = try RecordBatchHeader(parsing: UnsafeRawBufferPointer(rebasing: raw[position...]))
                    records += try RecordDecoder.records(in: UnsafeRawBufferPointer(rebasing: raw[position..<(position + header.size)]))
                    position += header.size
                }
                return records
            }
        }
    }

    static func batch(_ values: [String]) -> [UInt8] {
        var builder = RecordBatchBuilder()
        for value in values { builder.append(key: Array("k-\(value)".utf8), value: Array(value.utf8), timestamp: 1_000) }
        return builder.build()
    }

    func testProduceFetchAndTheLiveStream() throws {
        let node = try startNode()
        defer { node.stop() }
        let endpoints = try JSONDecoder().decode(NodeEndpoints.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/endpoints.json")))
        XCTAssertEqual(endpoints, node.endpoints)
        XCTAssertFalse(endpoints.api.hasSuffix(":*"))
        let client = try Client(endpoints.api)
        XCTAssertEqual(try client.createTopic("orders", partitions: 3).error, .none)
        XCTAssertEqual(try client.createTopic("orders", partitions: 3).error, .topicExists)

        let subscriber = try Socket(.sub, context: try Context())
        try subscriber.set(.receiveTimeout(.seconds(10)))
        try subscriber.subscribe(StreamTopic.frame(for: TopicPartition("orders", 1)))
        try subscriber.connect(endpoints.pub)
        usleep(200_000)  // let the subscription reach the node (a consumer repairs any miss by fetch)

        XCTAssertEqual(try client.produce("orders", partition: 1, batch: Self.batch(["a", "b"])).1, 0)
        XCTAssertEqual(try client.produce("orders", partition: 1, batch: Self.batch(["c"])).1, 2)
        let (header, records) = try client.fetch("orders", partition: 1, offset: 0)
        XCTAssertEqual(header.error, .none)
        XCTAssertEqual(records.map { String(decoding: $0.value!, as: UTF8.self) }, ["a", "b", "c"])
        XCTAssertEqual(records.map(\.offset), [0, 1, 2])

        for expected in [(Int64(0), Int64(2)), (2, 3)] {
            let message = try subscriber.receiveMultipart()
            XCTAssertEqual(message.count, 3)
            let stream = try message[1].withUnsafeBytes { try Ganglion_V1_StreamBatchHeader(serializedBytes: Data($0)) }
            XCTAssertEqual(stream.baseOffset, expected.0)
            XCTAssertEqual(stream.nextOffset, expected.1)
        }
        var metadata = Ganglion_V1_MetadataRequest()
        metadata.topics = ["orders", "missing"]
        let (_, frames) = try client.call(.metadata, metadata)
        let described = try frames[0].withUnsafeBytes { try Ganglion_V1_MetadataResponse(serializedBytes: Data($0)) }
        XCTAssertEqual(described.topics.first?.partitions.count, 3)
        XCTAssertEqual(described.topics.first?.partitions[1].highWatermark, 3)
        XCTAssertEqual(described.unknownTopics, ["missing"])
    }

    func testBadInputGetsTypedErrorsAndTheNodeKeepsServing() throws {
        let node = try startNode()
        defer { node.stop() }
        let client = try Client(node.endpoints.api)
        XCTAssertEqual(try client.createTopic("t", partitions: 1).error, .none)
        // Garbage frames.
        try client.socket.send(multipart: [Frame([0xFF, 0xFF, 0xFF]), Frame("junk")])
        let garbage = try client.socket.receiveMultipart()
        XCTAssertEqual(try garbage[0].withUnsafeBytes { try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }.error, .malformedRequest)
        // Unknown topic and partition, a corrupt batch, a bad topic name, an unsupported kind.
        XCTAssertEqual(try client.produce("nope", partition: 0, batch: Self.batch(["x"])).0.error, .unknownTopic)
        XCTAssertEqual(try client.produce("t", partition: 9, batch: Self.batch(["x"])).0.error, .unknownPartition)
        var corrupt = Self.batch(["x"])
        corrupt[corrupt.count - 1] ^= 0xFF
        let (corruptHeader, _) = try client.produce("t", partition: 0, batch: corrupt)
        XCTAssertEqual(corruptHeader.error, .corruptBatch)
        XCTAssertTrue(corruptHeader.errorMessage.contains("CRC32C"), corruptHeader.errorMessage)
        XCTAssertEqual(try client.createTopic("bad name", partitions: 1).error, .invalidConfig)
        XCTAssertEqual(try client.call(.unspecified, Ganglion_V1_InitProducerIdRequest()).0.error, .unsupportedKind)
        XCTAssertEqual(try client.fetch("t", partition: 0, offset: 5).0.error, .offsetOutOfRange)
        // Still serving.
        XCTAssertEqual(try client.produce("t", partition: 0, batch: Self.batch(["ok"])).1, 0)
    }

    func testARestartKeepsTopicsAndEveryAcknowledgedEvent() throws {
        var node: Node? = try startNode()
        var client = try Client(node!.endpoints.api)
        XCTAssertEqual(try client.createTopic("events", partitions: 2).error, .none)
        for index in 0..<20 { _ = try client.produce("events", partition: UInt32(index % 2), batch: Self.batch(["e\(index)"])) }
        node!.stop()
        node = nil
        node = try startNode()
        defer { node?.stop() }
        client = try Client(node!.endpoints.api)
        let (_, records) = try client.fetch("events", partition: 1, offset: 0)
        XCTAssertEqual(records.map { String(decoding: $0.value!, as: UTF8.self) }, stride(from: 1, to: 20, by: 2).map { "e\($0)" })
        XCTAssertEqual(try client.createTopic("events", partitions: 2).error, .topicExists, "the metadata log was replayed")
    }
}
