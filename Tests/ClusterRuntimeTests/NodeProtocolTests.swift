import ClusterCore
import ClusterRuntime
@testable import EventLog
import Foundation
import GanglionWire
import SwiftProtobuf
import XCTest
import ZeroMQ

/// The node does what docs/protocol.md says, for a client written from the document alone:
/// every request is answered with its own id, limits and versions are enforced, fencing holds
/// from an epoch bump on, and the live stream carries the batch as stored.
final class NodeProtocolTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-protocol-" + UUID().uuidString
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func header(_ kind: Ganglion_V1_RequestKind, id: UInt64, version: UInt32 = 1) throws -> Frame {
        var header = Ganglion_V1_RequestHeader()
        header.kind = kind
        header.requestID = id
        header.version = version
        return Frame(try header.serializedBytes() as [UInt8])
    }

    private func reply(_ client: NodeTests.Client) throws -> Ganglion_V1_ResponseHeader {
        let reply = try client.socket.receiveMultipart()
        return try reply[0].withUnsafeBytes { try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }
    }

    func testARequestOfMoreThanThreeFramesIsAnsweredWithAnErrorAndItsID() throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try NodeTests.Client(node.endpoints.api)
        XCTAssertEqual(try client.createTopic("t", partitions: 1).error, .none)
        var produce = Ganglion_V1_ProduceRequest()
        produce.topic = "t"
        produce.acks = .leader
        for count in [4, 9] {
            let frames = [try header(.produce, id: 77), Frame(try produce.serializedBytes() as [UInt8])]
                + (2..<count).map { _ in Frame(NodeTests.batch(["x"])) }
            try client.socket.send(multipart: frames)
            let answer = try reply(client)
            XCTAssertEqual(answer.requestID, 77)
            XCTAssertEqual(answer.error, .malformedRequest)
            XCTAssertTrue(answer.errorMessage.contains("\(count) frames"), answer.errorMessage)
        }
        XCTAssertEqual(try client.fetch("t", partition: 0, offset: 0).1.count, 0, "nothing of a refused request is stored")
    }

    func testAHeaderWithoutItsBodyIsAnsweredWithTheHeadersID() throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try NodeTests.Client(node.endpoints.api)
        try client.socket.send(multipart: [try header(.metadata, id: 4_242)])
        let answer = try reply(client)
        XCTAssertEqual(answer.requestID, 4_242)
        XCTAssertEqual(answer.error, .malformedRequest)
    }

    func testOtherProtocolVersionsAndAcksOutOfRangeAreRefused() throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try NodeTests.Client(node.endpoints.api)
        XCTAssertEqual(try client.createTopic("t", partitions: 1).error, .none)
        try client.socket.send(multipart: [try header(.metadata, id: 5, version: 2), Frame(try Ganglion_V1_MetadataRequest().serializedBytes() as [UInt8])])
        let version = try reply(client)
        XCTAssertEqual(version.requestID, 5)
        XCTAssertEqual(version.error, .malformedRequest)
        XCTAssertTrue(version.errorMessage.contains("version 2"), version.errorMessage)
        var produce = Ganglion_V1_ProduceRequest()
        produce.topic = "t"
        produce.acks = .UNRECOGNIZED(9)
        let (answer, _) = try client.call(.produce, produce, extra: NodeTests.batch(["x"]))
        XCTAssertEqual(answer.error, .invalidConfig)
        XCTAssertTrue(answer.errorMessage.contains("acks"), answer.errorMessage)
        XCTAssertEqual(try client.fetch("t", partition: 0, offset: 0).1.count, 0)
    }

    func testTheLiveStreamCarriesTheBatchAsStored() throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try NodeTests.Client(node.endpoints.api)
        XCTAssertEqual(try client.createTopic("t", partitions: 1).error, .none)
        let subscriber = try Socket(.sub, context: try Context())
        try subscriber.set(.receiveTimeout(.seconds(10)))
        try subscriber.subscribe(StreamTopic.frame(for: TopicPartition("t", 0)))
        try subscriber.connect(node.endpoints.pub)
        usleep(200_000)
        _ = try client.produce("t", partition: 0, batch: NodeTests.batch(["a", "b"]))
        _ = try client.produce("t", partition: 0, batch: NodeTests.batch(["c"]))
        let (_, fetched) = try client.call(.fetch, { var f = Ganglion_V1_FetchRequest(); f.topic = "t"; f.maxBytes = 1 << 20; return f }())
        var stored = fetched[1].bytes
        for expected in [Int64(0), 2] {
            let message = try subscriber.receiveMultipart()
            let batch = try message[2].bytes.withUnsafeBytes { try RecordBatchHeader(parsing: $0) }
            XCTAssertEqual(batch.baseOffset, expected, "a subscriber dropping batches below its next offset would drop this one")
            XCTAssertEqual(message[2].bytes, Array(stored.prefix(batch.size)), "the live batch is the fetched batch, byte for byte")
            stored.removeFirst(batch.size)
        }
    }

    func testAnEpochBumpFencesTheOldEpochOnEveryPartitionAndUnissuedIDsAreRefused() throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try NodeTests.Client(node.endpoints.api)
        XCTAssertEqual(try client.createTopic("t", partitions: 2).error, .none)
        let (_, first) = try client.call(.initProducerID, Ganglion_V1_InitProducerIdRequest())
        let issued = try first[0].withUnsafeBytes { try Ganglion_V1_InitProducerIdResponse(serializedBytes: Data($0)) }
        func batch(id: Int64, epoch: Int16, sequence: Int32) -> [UInt8] {
            var builder = RecordBatchBuilder()
            builder.producerID = id
            builder.producerEpoch = epoch
            builder.baseSequence = sequence
            builder.append(key: Array("k".utf8), value: Array("v".utf8), timestamp: 1_000)
            return builder.build()
        }
        XCTAssertEqual(try client.produce("t", partition: 0, batch: batch(id: issued.producerID, epoch: 0, sequence: 0)).0.error, .none)
        var bump = Ganglion_V1_InitProducerIdRequest()
        bump.producerID = issued.producerID
        XCTAssertEqual(try client.call(.initProducerID, bump).0.error, .none)
        // Partition 1 never saw the new epoch; the old one is fenced there all the same.
        let stale = try client.produce("t", partition: 1, batch: batch(id: issued.producerID, epoch: 0, sequence: 0)).0
        XCTAssertEqual(stale.error, .invalidProducerEpoch, stale.errorMessage)
        let unissued = try client.produce("t", partition: 1, batch: batch(id: 987_654, epoch: 0, sequence: 0)).0
        XCTAssertEqual(unissued.error, .invalidProducerEpoch)
        XCTAssertTrue(unissued.errorMessage.contains("never issued"), unissued.errorMessage)
        let future = try client.produce("t", partition: 1, batch: batch(id: issued.producerID, epoch: 7, sequence: 0)).0
        XCTAssertEqual(future.error, .invalidProducerEpoch)
        XCTAssertEqual(try client.produce("t", partition: 1, batch: batch(id: issued.producerID, epoch: 1, sequence: 0)).0.error, .none)
        XCTAssertEqual(try client.fetch("t", partition: 1, offset: 0).1.count, 1)
    }

    func testMalformedBatchesAreRefusedAndEveryEarlierRecordReadsBackUnchanged() throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try NodeTests.Client(node.endpoints.api)
        XCTAssertEqual(try client.createTopic("t", partitions: 1).error, .none)
        XCTAssertEqual(try client.produce("t", partition: 0, batch: NodeTests.batch(["good"])).0.error, .none)
        var hostile: [[UInt8]] = []
        var deltas = RecordBatchBuilder()
        deltas.append(key: [1], value: [2], timestamp: 5)
        deltas.append(key: [1], value: [2], timestamp: 6)
        var dense = deltas.build()
        // Second record's offset delta (1 → 0): the byte after its length, attributes and timestamp delta.
        let second = RecordBatchLayout.headerSize + Int(dense[RecordBatchLayout.headerSize] >> 1) + 1
        dense[second + 3] = 0
        hostile.append(resealed(dense))
        var compressed = NodeTests.batch(["z"])
        compressed[RecordBatchLayout.attributes + 1] = 1
        hostile.append(resealed(compressed))
        var length = NodeTests.batch(["l"])
        length.replaceSubrange(RecordBatchLayout.headerSize..<(RecordBatchLayout.headerSize + 1),
                               with: [0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        let batchLength = Int32(length.count - 12)
        length.withUnsafeMutableBytes { $0.storeBytes(of: batchLength.bigEndian, toByteOffset: 8, as: Int32.self) }
        hostile.append(resealed(length))
        hostile.append([])
        hostile.append(Array(NodeTests.batch(["t"]).prefix(30)))
        for bad in hostile {
            let answer = try client.produce("t", partition: 0, batch: bad).0
            XCTAssertEqual(answer.error, .corruptBatch, answer.errorMessage)
            XCTAssertEqual(try client.fetch("t", partition: 0, offset: 0).1.map { String(decoding: $0.value!, as: UTF8.self) }, ["good"])
        }
    }

    func testMetadataNamesTheNodesHTTPEndpoint() throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        node.publishHTTPEndpoint("http://127.0.0.1:7777")
        let client = try NodeTests.Client(node.endpoints.api)
        let (_, frames) = try client.call(.metadata, Ganglion_V1_MetadataRequest())
        let described = try frames[0].withUnsafeBytes { try Ganglion_V1_MetadataResponse(serializedBytes: Data($0)) }
        XCTAssertEqual(described.nodes.first?.httpEndpoint, "http://127.0.0.1:7777")
    }

    func testAFetchNeverReturnsRecordsAboveTheHighWatermark() throws {
        let faults = LogFaults()
        let node = try startTestNode(directory) { $0.durability = .everyBatch; $0.topicFaults = faults }
        defer { node.stop() }
        let client = try NodeTests.Client(node.endpoints.api)
        XCTAssertEqual(try client.createTopic("t", partitions: 1).error, .none)
        faults.delayNextSyncs(1, by: .milliseconds(800))
        var produce = Ganglion_V1_ProduceRequest()
        produce.topic = "t"
        produce.acks = .leader
        var header = Ganglion_V1_RequestHeader()
        header.kind = .produce
        header.requestID = 900
        header.version = 1
        try client.socket.send(multipart: [Frame(try header.serializedBytes() as [UInt8]), Frame(try produce.serializedBytes() as [UInt8]),
                                           Frame(NodeTests.batch(["pending"]))])
        usleep(100_000)  // written, waiting for its fsync: not yet committed
        var fetch = Ganglion_V1_FetchRequest()
        fetch.topic = "t"
        fetch.maxBytes = 1 << 20
        fetch.committedOnly = false
        header.kind = .fetch
        header.requestID = 901
        try client.socket.send(multipart: [Frame(try header.serializedBytes() as [UInt8]), Frame(try fetch.serializedBytes() as [UInt8])])
        var fetched: [Record]?
        for _ in 0..<2 {
            let reply = try client.socket.receiveMultipart()
            let answer = try reply[0].withUnsafeBytes { try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }
            if answer.requestID == 901 { fetched = try NodeTests.Client.records(reply[2].bytes) }
        }
        XCTAssertEqual(fetched?.count, 0, "a record not yet durable (above the high watermark) was served")
        XCTAssertEqual(try client.fetch("t", partition: 0, offset: 0).1.count, 1, "served once acknowledged")
    }

    /// `bytes` with its CRC32C recomputed (so the checks behind the checksum are reached).
    private func resealed(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchLayout.attributes...])) }
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: crc.bigEndian, toByteOffset: RecordBatchLayout.crc, as: UInt32.self) }
        return bytes
    }
}
