import Foundation
import Ganglion
import GanglionWire
import SchemaRegistry
import XCTest
import ZeroMQ

/// The schema registry of a real `ganglion node` process: Confluent's own Python client against
/// its REST API, the same operations over the request socket, enforcement on publish (including
/// payloads in Confluent's framing), and a restart that replays the registry from the metadata log.
final class RegistryProcessTests: XCTestCase {
    private var directory = ""
    private var node: Process?

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-registry-" + UUID().uuidString }
    override func tearDown() {
        if let node, node.isRunning { node.terminate(); node.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static let scenario = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("registry/confluent_client_scenario.py")

    /// Runs the Confluent client scenario; returns its status and output. scripts/test.sh installs
    /// the client into a venv and names its python in GANGLION_TEST_PYTHON.
    private func runScenario(_ http: String, auth: [String] = []) throws -> (Int32, String) {
        let python = ProcessInfo.processInfo.environment["GANGLION_TEST_PYTHON"] ?? "python3"
        return try runProcess(URL(fileURLWithPath: "/usr/bin/env"), [python, Self.scenario.path, http, "--with-serializer"] + auth)
    }

    /// Confluent's client against a node with security on (`ganglion security init`, then
    /// `ganglion node --security-dir`): without credentials it gets 401; with a Ganglion token —
    /// as `basic.auth.user.info` and as a static bearer token — the whole scenario passes.
    func testConfluentsClientAuthenticatesWithATokenWhenSecurityIsOn() async throws {
        let keys = directory + "/keys"
        let initialised = try runProcess(try ganglionExecutable(self), ["security", "init", keys])
        XCTAssertEqual(initialised.status, 0, initialised.output)
        for (round, style) in ["basic", "bearer"].enumerated() {
            let data = directory + "/node-\(round)"
            let (process, api) = try startNodeProcess(data, test: self, arguments: ["--security-dir", keys])
            node = process
            defer { process.terminate(); process.waitUntilExit() }
            let http = try await httpEndpoint(data)
            let client = try GanglionClient(endpoint: api, credentials: try CurveKeyFiles.clientCredentials(directory: keys, principal: "admin"))
            defer { client.close() }
            // admin is a super user by its key; to hold an HTTP token it is also a principal of the metadata.
            try await client.addPrincipal("admin", publicKey: try CurveKeyFiles.readPublicKey(keys + "/admin.pub").z85)
            let token = try await client.createToken(principal: "admin", description: "registry test").secret
            let (status, output) = try runScenario(http, auth: style == "basic" ? ["--basic-auth", "admin:" + token] : ["--bearer", token])
            XCTAssertEqual(status, 0, "\(style): the Confluent client scenario failed:\n\(output)")
            XCTAssertTrue(output.contains("no credentials: 401"), output)
        }
    }

    func testConfluentsClientTheSocketAPIAndEnforcementOnPublish() async throws {
        var (process, api) = try startNodeProcess(directory, test: self)
        node = process
        let http = try await httpEndpoint(directory)
        let (status, output) = try runScenario(http)
        XCTAssertEqual(status, 0, "the Confluent client scenario failed:\n\(output)")
        let framedLine = try XCTUnwrap(output.split(separator: "\n").last { $0.hasPrefix("FRAMED ") }, output)
        let framed = try XCTUnwrap(Self.bytes(hex: String(framedLine.dropFirst("FRAMED ".count))))
        let framing = try XCTUnwrap(ConfluentFraming(parsing: framed), "Ganglion reads Confluent's framing")
        XCTAssertEqual(framing.messageIndexes, [0])

        // The same registry over the request socket.
        let client = try GanglionClient(endpoint: api)
        let subjects = try await client.registry("GET", ["subjects"]) as? [String]
        XCTAssertEqual(subjects?.contains("audit-value"), true, "\(String(describing: subjects))")
        let schema = try await client.registry("GET", ["schemas", "ids", String(framing.schemaID)]) as? [String: Any]
        XCTAssertEqual(schema?["schemaType"] as? String, "PROTOBUF")
        do {
            _ = try await client.registry("GET", ["subjects", "nobody", "versions"])
            XCTFail("an unknown subject is refused")
        } catch let error as RegistryCallError {
            XCTAssertEqual(error.code, 40401)
            XCTAssertEqual(error.status, 404)
        }

        // A topic bound to audit-value with full validation takes the framed payload, and refuses
        // a wrong schema id, an unframed payload and a payload that does not decode.
        try await client.createTopic("audit", partitions: 1, subject: "audit-value", validation: .full)
        let producer = try await Producer(client: client)
        try await producer.send(topic: "audit", value: framed)
        var envelope = EventEnvelope()
        envelope.id = "evt-1"
        envelope.type = "audit.recorded"
        envelope.schemaID = UInt32(framing.schemaID)
        envelope.data = Data(framed[framing.payloadOffset...])
        try await producer.send(topic: "audit", value: try envelope.serializedBytes())
        var wrongID = envelope
        wrongID.schemaID = 999
        var undecodable = envelope
        undecodable.data = Data([0x0a, 0xff, 0xff])
        var missingID = envelope
        missingID.schemaID = 0
        for (bad, reason) in [(wrongID, "999"), (undecodable, "does not decode"), (missingID, "names no schema id")] {
            do {
                try await producer.send(topic: "audit", value: try bad.serializedBytes())
                XCTFail("\(reason): refused")
            } catch let error as GanglionError {
                XCTAssertEqual(error.code, .schemaViolation)
                XCTAssertTrue(error.message.contains(reason), error.message)
            }
        }
        var stored = try await client.metadata(topics: ["audit"]).topics[0].partitions[0].highWatermark
        XCTAssertEqual(stored, 2, "only the two valid events were stored")

        // The CLI encodes JSON payloads with the topic's subject, and names a payload that does not fit.
        let good = try runCLI(["publish", "audit", "--node", api, "--data", "{\"orderId\":\"o-9\",\"quantity\":3,\"price\":2.5}"])
        XCTAssertEqual(good.0, 0, good.1)
        let wrong = try runCLI(["publish", "audit", "--node", api, "--data", "{\"quantity\":\"lots\"}"])
        XCTAssertNotEqual(wrong.0, 0)
        XCTAssertTrue(wrong.1.contains("quantity"), wrong.1)
        stored = try await client.metadata(topics: ["audit"]).topics[0].partitions[0].highWatermark
        XCTAssertEqual(stored, 3)
        // `tail` shows protobuf payloads decoded through the registry: the bare framed value, the
        // envelope naming its schema, and the CLI's event.
        let tailed = try runCLI(["tail", "audit", "--node", api, "--from-beginning", "--max-events", "3"])
        XCTAssertEqual(tailed.0, 0, tailed.1)
        let lines = tailed.1.split(separator: "\n").filter { $0.hasPrefix("{") }
        XCTAssertEqual(lines.count, 3, tailed.1)
        XCTAssertTrue(lines[0].contains("\"valueJson\":{"), String(lines[0]))
        XCTAssertTrue(lines[1].contains("\"dataJson\":{"), String(lines[1]))
        XCTAssertTrue(lines[2].contains("\"dataJson\":{") && lines[2].contains("\"orderId\":\"o-9\""), String(lines[2]))
        let metrics = try await NodeProcessTests.get(http + "/metrics")
        XCTAssertTrue(metrics.contains("ganglion_schema_rejected_events_total"), metrics)
        client.close()

        // The schema CLI: register, an incompatible check with its violations, list and get.
        let files = URL(fileURLWithPath: directory).appendingPathComponent("protos")
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
        let v1 = files.appendingPathComponent("payment.proto"), v2 = files.appendingPathComponent("payment-v2.proto")
        try "syntax = \"proto3\";\npackage pay;\nmessage Payment { string id = 1; int64 cents = 2; }\n".write(to: v1, atomically: true, encoding: .utf8)
        try "syntax = \"proto3\";\npackage pay;\nmessage Payment { string id = 1; string cents = 2; }\n".write(to: v2, atomically: true, encoding: .utf8)
        let registered = try runCLI(["schema", "register", "payments-value", v1.path, "--node", api, "-I", files.path])
        XCTAssertEqual(registered.0, 0, registered.1)
        XCTAssertTrue(registered.1.contains("version 1"), registered.1)
        let checked = try runCLI(["schema", "check", "payments-value", v2.path, "--node", api])
        XCTAssertEqual(checked.0, 1, checked.1)
        XCTAssertTrue(checked.1.contains("incompatible") && checked.1.contains("cents"), checked.1)
        let refused = try runCLI(["schema", "register", "payments-value", v2.path, "--node", api])
        XCTAssertEqual(refused.0, 1, refused.1)
        XCTAssertTrue(refused.1.contains("error 409"), refused.1)
        let listed = try runCLI(["schema", "list", "--node", api])
        XCTAssertTrue(listed.1.contains("payments-value"), listed.1)
        let shown = try runCLI(["schema", "get", "payments-value", "--node", api])
        XCTAssertTrue(shown.1.contains("int64 cents"), shown.1)
        let missing = try runCLI(["schema", "get", "nobody", "--node", api])
        XCTAssertEqual(missing.0, 1)
        XCTAssertTrue(missing.1.contains("40401"), missing.1)

        // A restart replays the registry from the metadata log.
        let before = try await NodeProcessTests.get(http + "/subjects/audit-value/versions")
        process.terminate()
        process.waitUntilExit()
        (process, api) = try startNodeProcess(directory, test: self)
        node = process
        let restarted = try await httpEndpoint(directory)
        let after = try await NodeProcessTests.get(restarted + "/subjects/audit-value/versions")
        XCTAssertEqual(after, before)
        let id = try await NodeProcessTests.get(restarted + "/schemas/ids/\(framing.schemaID)")
        XCTAssertTrue(id.contains("\"schemaType\":\"PROTOBUF\""), id)
    }

    /// Runs the `ganglion` CLI; returns its exit status and its output and errors.
    private func runCLI(_ arguments: [String]) throws -> (Int32, String) {
        try runProcess(try ganglionExecutable(self), arguments)
    }

    static func bytes(hex: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) ?? hex.endIndex
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
