import ClusterRuntime
import EventLog
import Foundation
import GanglionWire
import SwiftProtobuf
import XCTest
import ZeroMQ

/// Registry operations compile schemas, which takes seconds for a large one: the node does that
/// work off its socket thread, so produce keeps being answered while a schema compiles.
final class RegistryOffSocketThreadTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-registry-thread-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// A DEALER on the node's request socket; requests may be sent before earlier replies arrive.
    private final class Connection {
        let socket: Socket
        var nextID: UInt64 = 1

        init(_ endpoint: String) throws {
            socket = try Socket(.dealer, context: try Context())
            try socket.set(.receiveTimeout(.seconds(60)))
            try socket.connect(endpoint)
        }

        func send<Body: SwiftProtobuf.Message>(_ kind: Ganglion_V1_RequestKind, _ body: Body, extra: [UInt8]? = nil) throws -> UInt64 {
            var header = Ganglion_V1_RequestHeader()
            header.kind = kind
            header.requestID = nextID
            header.version = 1
            nextID += 1
            var frames = [Frame(try header.serializedBytes() as [UInt8]), Frame(try body.serializedBytes() as [UInt8])]
            if let extra { frames.append(Frame(extra)) }
            try socket.send(multipart: frames)
            return header.requestID
        }

        func receive() throws -> (Ganglion_V1_ResponseHeader, [Frame]) {
            let reply = try socket.receiveMultipart()
            let header = try reply[0].withUnsafeBytes { try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }
            return (header, Array(reply.dropFirst()))
        }
    }

    /// About 1 MB of `.proto` text: thousands of messages with maps and self-references.
    private static func largeSchema() -> String {
        var text = "syntax = \"proto3\";\npackage big.v1;\n"
        var index = 0
        while text.utf8.count < 1_000_000 {
            text += "message M\(index) { string name = 1; int64 id = 2; repeated int32 values = 3; map<string, string> labels = 4; M\(index) next = 5; }\n"
            index += 1
        }
        return text
    }

    /// The registry queue's thread has the stack for the deepest schema the compiler takes.
    func testASchemaNestedToTheDepthLimitRegistersThroughTheNode() throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let connection = try Connection(node.endpoints.api)
        let depth = 100
        var text = "syntax = \"proto3\";\npackage deep.v1;\n"
        for level in 0..<depth { text += "message M\(level) {\n  M\(level) again = 1;\n  map<string, M\(level)> byName = 2;\n" }
        text += String(repeating: "}\n", count: depth)
        for (subject, schema, status) in [("deep-value", text, 200), ("deeper-value", text.replacingOccurrences(of: "package deep.v1;", with: "package deep.v1;\nmessage Top {\n") + "}\n", 422)] {
            var register = Ganglion_V1_RegistryRequest()
            register.method = "POST"
            register.path = ["subjects", subject, "versions"]
            register.body = try JSONSerialization.data(withJSONObject: ["schemaType": "PROTOBUF", "schema": schema])
            _ = try connection.send(.registry, register)
            let (header, frames) = try connection.receive()
            XCTAssertEqual(header.error, .none, header.errorMessage)
            let response = try frames[0].withUnsafeBytes { try Ganglion_V1_RegistryResponse(serializedBytes: Data($0)) }
            let answer = String(decoding: response.body, as: UTF8.self)
            XCTAssertEqual(Int(response.status), status, answer)
            if status == 422 { XCTAssertTrue(answer.contains("nested more than 100 levels"), answer) }
        }
    }

    func testProduceIsAnsweredWhileALargeSchemaCompiles() throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let registrar = try Connection(node.endpoints.api), producer = try Connection(node.endpoints.api)
        var create = Ganglion_V1_CreateTopicRequest()
        create.name = "orders"
        create.config.partitions = 1
        _ = try producer.send(.createTopic, create)
        XCTAssertEqual(try producer.receive().0.error, .none)

        var register = Ganglion_V1_RegistryRequest()
        register.method = "POST"
        register.path = ["subjects", "big-value", "versions"]
        register.body = try JSONSerialization.data(withJSONObject: ["schemaType": "PROTOBUF", "schema": Self.largeSchema()])
        let registeredAt = Date()
        _ = try registrar.send(.registry, register)
        usleep(200_000)  // the node has the registration in hand and is compiling

        var produce = Ganglion_V1_ProduceRequest()
        produce.topic = "orders"
        produce.partition = 0
        produce.acks = .leader
        var builder = RecordBatchBuilder()
        builder.append(key: Array("k".utf8), value: Array("v".utf8), timestamp: 1_000)
        let producedAt = Date()
        _ = try producer.send(.produce, produce, extra: builder.build())
        let (produced, _) = try producer.receive()
        let produceSeconds = Date().timeIntervalSince(producedAt)
        XCTAssertEqual(produced.error, .none, produced.errorMessage)

        let (registered, frames) = try registrar.receive()
        let registerSeconds = Date().timeIntervalSince(registeredAt)
        XCTAssertEqual(registered.error, .none, registered.errorMessage)
        let response = try frames[0].withUnsafeBytes { try Ganglion_V1_RegistryResponse(serializedBytes: Data($0)) }
        // 1 MB of text is under the schema limit, but its record (text and descriptor) is over the
        // metadata log's 1 MiB: refused, after the compile, with the code that says so.
        let answer = String(decoding: response.body, as: UTF8.self)
        XCTAssertEqual(response.status, 422, answer)
        XCTAssertTrue(answer.contains("42209") && answer.contains("registry record"), answer)
        print("registry: a 1 MB schema compiled and answered in \(String(format: "%.3f", registerSeconds)) s; a produce sent meanwhile answered in \(String(format: "%.3f", produceSeconds)) s")
        XCTAssertGreaterThan(registerSeconds, 0.5, "the schema compiled too fast for this test to show anything")
        XCTAssertLessThan(produceSeconds, registerSeconds / 2, "produce waited for the schema to compile")
    }
}
