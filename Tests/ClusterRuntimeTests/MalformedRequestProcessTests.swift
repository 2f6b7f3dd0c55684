import ClusterCore
import EventLog
import Foundation
import GanglionTestKit
import GanglionWire
import SwiftProtobuf
import XCTest
import ZeroMQ

/// A `ganglion node` process is sent a corpus of malformed requests (truncated, overflowing
/// lengths, bad deltas, wrong CRC, too many frames, unknown kinds, empty frames) and seeded
/// mutations of valid ones; after each it still answers METADATA, and every record acknowledged
/// before reads back unchanged. `GANGLION_FUZZ_ITERATIONS=n` sends more mutations.
final class MalformedRequestProcessTests: XCTestCase {
    private static let mutations = min(Int(ProcessInfo.processInfo.environment["GANGLION_FUZZ_ITERATIONS"] ?? "") ?? 1_500, 200_000)
    private var directory = ""
    private var nextID: UInt64 = 1
    /// Ids of the probes (METADATA, read-backs): far from the mutated requests' ids, so a mutated
    /// header cannot pass for a probe's answer.
    private var nextProbeID: UInt64 = 1 << 62

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-malformed-" + UUID().uuidString
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func header(_ kind: Ganglion_V1_RequestKind, version: UInt32 = 1, probe: Bool = false) -> [UInt8] {
        var header = Ganglion_V1_RequestHeader()
        header.kind = kind
        header.requestID = probe ? nextProbeID : nextID
        header.version = version
        if probe { nextProbeID += 1 } else { nextID += 1 }
        return (try? header.serializedBytes()) ?? []
    }

    private func body<M: SwiftProtobuf.Message>(_ message: M) -> [UInt8] { (try? message.serializedBytes()) ?? [] }

    /// Sends METADATA and reads replies until its own arrives (earlier hostile requests may have
    /// been answered, or not at all — ACKS_NONE); fails when the node does not answer.
    private func assertServing(_ socket: Socket, after what: String) throws {
        let id = nextProbeID
        try socket.send(multipart: [Frame(header(.metadata, probe: true)), Frame(body(Ganglion_V1_MetadataRequest()))])
        while true {
            let reply: [Frame]
            do {
                reply = try socket.receiveMultipart()
            } catch {
                XCTFail("the node stopped answering after \(what): \(error)")
                throw error
            }
            guard let answer = try? reply[0].withUnsafeBytes({ try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }) else {
                XCTFail("an unreadable response header after \(what)")
                continue
            }
            if answer.requestID == id {
                XCTAssertEqual(answer.error, .none, "METADATA after \(what): \(answer.errorMessage)")
                return
            }
        }
    }

    private func readBack(_ socket: Socket) throws -> [String] {
        var fetch = Ganglion_V1_FetchRequest()
        fetch.topic = "ledger"
        fetch.maxBytes = 8 << 20
        let id = nextProbeID
        try socket.send(multipart: [Frame(header(.fetch, probe: true)), Frame(body(fetch))])
        while true {
            let reply = try socket.receiveMultipart()
            let answer = try reply[0].withUnsafeBytes { try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }
            guard answer.requestID == id else { continue }
            XCTAssertEqual(answer.error, .none, answer.errorMessage)
            return try RecordDecoder.records(inBatches: reply[2].bytes).map { String(decoding: $0.value ?? [], as: UTF8.self) }
        }
    }

    private func batch(_ value: String) -> [UInt8] {
        var builder = RecordBatchBuilder()
        builder.append(key: Array("k".utf8), value: Array(value.utf8), timestamp: 1_000)
        return builder.build()
    }

    /// Hand-made hostile requests, each one message.
    private func corpus() -> [[[UInt8]]] {
        var produce = Ganglion_V1_ProduceRequest()
        produce.topic = "fuzz"
        produce.acks = .leader
        let valid = batch("x")
        var longLength = valid
        longLength.replaceSubrange(61..<62, with: [0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        var badCRC = valid
        badCRC[badCRC.count - 1] ^= 0x55
        var wildCount = valid
        wildCount.replaceSubrange(57..<61, with: [0x7F, 0xFF, 0xFF, 0xFF])
        var fetch = Ganglion_V1_FetchRequest()
        fetch.topic = "fuzz"
        fetch.offset = -9_000_000_000
        fetch.maxBytes = UInt32.max
        return [
            [[0xFF, 0xFF, 0xFF], Array("junk".utf8)],
            [Array(header(.metadata).prefix(2)), []],
            [header(.metadata)],
            [header(.produce), body(produce), valid, valid],
            [header(.produce)] + Array(repeating: valid, count: 9),
            [[], []],
            [[], [], []],
            [header(.metadata, version: 7), body(Ganglion_V1_MetadataRequest())],
            [{ var h = Ganglion_V1_RequestHeader(); h.kind = .UNRECOGNIZED(999); h.requestID = 5; h.version = 1; return body(h) }(), []],
            [header(.produce), body(produce), longLength],
            [header(.produce), body(produce), badCRC],
            [header(.produce), body(produce), wildCount],
            [header(.produce), body(produce), Array(valid.prefix(40))],
            [header(.produce), body(produce), []],
            [header(.produce), Array(repeating: 0xFF, count: 64), valid],
            [header(.fetch), body(fetch)],
            [header(.createTopic), [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]],
        ]
    }

    func testMalformedRequestsNeverStopTheNodeOrTouchStoredRecords() throws {
        let (process, api) = try startNodeProcess(directory, test: self)
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let socket = try Socket(.dealer, context: try Context())
        try socket.set(.receiveTimeout(.seconds(10)))
        try socket.connect(api)
        for topic in ["ledger", "fuzz"] {
            var create = Ganglion_V1_CreateTopicRequest()
            create.name = topic
            create.config.partitions = 1
            try socket.send(multipart: [Frame(header(.createTopic)), Frame(body(create))])
            _ = try socket.receiveMultipart()
        }
        var good: [String] = []
        func produceGood() throws {
            let value = "good-\(good.count)"
            var produce = Ganglion_V1_ProduceRequest()
            produce.topic = "ledger"
            produce.acks = .leader
            try socket.send(multipart: [Frame(header(.produce)), Frame(body(produce)), Frame(batch(value))])
            let answer = try socket.receiveMultipart()[0].withUnsafeBytes { try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }
            XCTAssertEqual(answer.error, .none, answer.errorMessage)
            good.append(value)
        }
        try produceGood()
        for (index, request) in corpus().enumerated() {
            try socket.send(multipart: request.map { Frame($0) })
            try assertServing(socket, after: "corpus request \(index)")
            XCTAssertEqual(try readBack(socket), good, "after corpus request \(index)")
            try produceGood()
        }
        // Seeded mutations of valid requests of every kind.
        let seed = FuzzSeed.current(ci: 20_261_207)
        var random = SeededGenerator(seed: seed)
        let kinds: [Ganglion_V1_RequestKind] = [.produce, .fetch, .metadata, .createTopic, .groupHeartbeat, .offsetCommit, .offsetFetch,
                                                .describeGroup, .initProducerID, .listOffsets, .listGroups, .resetOffsets, .registry]
        let bodies: [[UInt8]] = corpus().compactMap { $0.count > 1 ? $0[1] : nil } + [
            body({ var r = Ganglion_V1_GroupHeartbeatRequest(); r.group = "g"; r.subscribedTopics = ["fuzz"]; return r }()),
            body({ var r = Ganglion_V1_ListOffsetsRequest(); r.topic = "fuzz"; r.timestamp = -1; return r }()),
            body({ var r = Ganglion_V1_RegistryRequest(); r.method = "GET"; r.path = ["subjects"]; return r }()),
        ]
        for iteration in 0..<Self.mutations {
            var frames = [FuzzMutation.mutate(header(kinds[Int(random.next() % UInt64(kinds.count))]), &random)]
            frames.append(FuzzMutation.mutate(bodies[Int(random.next() % UInt64(bodies.count))], &random))
            if random.next() % 2 == 0 { frames.append(FuzzMutation.mutate(batch("m\(iteration)"), &random)) }
            try socket.send(multipart: frames.map { Frame($0) })
            if iteration % 50 == 49 {
                try assertServing(socket, after: "mutation \(iteration) of seed \(seed)")
                XCTAssertEqual(try readBack(socket), good, "seed \(seed) iteration \(iteration)")
            }
        }
        try assertServing(socket, after: "the mutations of seed \(seed)")
        XCTAssertEqual(try readBack(socket), good)
        XCTAssertTrue(process.isRunning)
    }
}
