import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// `ganglion publish` never drops a line's content: a JSON object is the envelope form (only the
/// documented keys) or the data itself, and anything ambiguous is an error naming the line.
final class PublishCommandTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-publish-" + UUID().uuidString
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `ganglion publish` with `input` on stdin; returns its status and output.
    private func publish(_ api: String, _ topic: String, _ input: String, arguments: [String] = []) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = try ganglionExecutable(self)
        process.arguments = ["publish", topic, "--node", api] + arguments
        let stdin = Pipe(), output = Pipe()
        process.standardInput = stdin
        process.standardOutput = output
        process.standardError = output
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testJSONLinesWithoutEnvelopeKeysAreTheDataItself() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        _ = try await client.createTopic("numbers", partitions: 1)
        let input = """
            {"n": 1}
            {"key": "a", "type": "t.x", "data": {"m": 2}}
            {"key": "b", "data": "text"}
            plain words

            """
        let (status, output) = try publish(node.endpoints.api, "numbers", input)
        XCTAssertEqual(status, 0, output)
        let events = try await storedEvents(client, "numbers")
        XCTAssertEqual(events.count, 4)
        let data = events.map { String(decoding: $0.data, as: UTF8.self) }
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(data[0].utf8)) as? [String: Int], ["n": 1], "the line's object is the data")
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(data[1].utf8)) as? [String: Int], ["m": 2])
        XCTAssertEqual(events[1].type, "t.x")
        XCTAssertEqual(String(decoding: events[1].key, as: UTF8.self), "a")
        XCTAssertEqual(data[2], "text")
        XCTAssertEqual(data[3], "plain words")
    }

    /// Each event says what its data is, the same whether it came from a line or from --data:
    /// JSON is application/json, other UTF-8 text is text/plain (not octet-stream: the CLI's
    /// input is text), and --content-type names it outright.
    func testEveryEventNamesItsDataContentTypeAlikeFromLinesAndFromData() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        _ = try await client.createTopic("typed", partitions: 1)
        let input = """
            {"n": 1}
            [1, 2]
            {"key": "a", "data": {"m": 2}}
            {"key": "b", "data": "text"}
            plain words

            """
        var (status, output) = try publish(node.endpoints.api, "typed", input)
        XCTAssertEqual(status, 0, output)
        for (data, extra) in [("{\"x\": 1}", [String]()), ("42", []), ("hello", []), ("<a/>", ["--content-type", "application/xml"])] {
            (status, output) = try publish(node.endpoints.api, "typed", "", arguments: ["--data", data] + extra)
            XCTAssertEqual(status, 0, output)
        }
        let events = try await storedEvents(client, "typed")
        let json = "application/json", text = "text/plain; charset=utf-8"
        XCTAssertEqual(events.map(\.dataContentType), [json, json, json, text, text, json, json, text, "application/xml"])
        // A content type that is not one (no type/subtype) is refused, naming it.
        (status, output) = try publish(node.endpoints.api, "typed", "", arguments: ["--data", "x", "--content-type", "xml"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("--content-type") && output.contains("xml"), output)
    }

    func testAnObjectMixingEnvelopeKeysAndOtherKeysIsAnErrorNamingTheLine() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        _ = try await client.createTopic("mixed", partitions: 1)
        let (status, output) = try publish(node.endpoints.api, "mixed", "{\"n\": 1}\n{\"key\": \"a\", \"amount\": 5}\n")
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("line 2"), output)
        XCTAssertTrue(output.contains("amount"), output)
    }

    /// What the compose file's sample traffic relies on through a rolling restart: a publish
    /// that fails before its event could be stored (no node answers yet, then no such topic) is
    /// tried again until `--retry-for` runs out, and the event is stored once.
    func testAPublishRetriesUntilItsNodeAnswersAndItsTopicExistsAndStoresTheEventOnce() async throws {
        let port = try freeLoopbackPorts(1)[0]
        let api = "tcp://127.0.0.1:\(port)"
        let process = Process()
        process.executableURL = try ganglionExecutable(self)
        process.arguments = ["publish", "late", "--node", api, "--key", "k", "--data", "hello", "--retry-for", "30"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try await Task.sleep(for: .seconds(2))
        let node = try startTestNode(directory) { $0.apiEndpoint = api }
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await Task.sleep(for: .seconds(1))
        _ = try await client.createTopic("late", partitions: 1)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("trying again"), "the failed tries are printed: \(text)")
        XCTAssertTrue(text.contains("published to late-0 at offset 0"), text)
        let events = try await storedEvents(client, "late")
        XCTAssertEqual(events.map { String(decoding: $0.data, as: UTF8.self) }, ["hello"], "stored once")
    }

    /// A node stopped while a publish's request is with it (its fsync held back) and back three
    /// seconds later: the publish, with `--retry-for`, resends under its producer id and sequence
    /// until the node answers, and the event is stored once.
    func testAPublishWhoseNodeGoesAwayMidRequestResendsUntilItIsBack() async throws {
        let ports = try freeLoopbackPorts(2)
        let faults = LogFaults()
        func start() throws -> Node {
            try startTestNode(directory) {
                $0.apiEndpoint = "tcp://127.0.0.1:\(ports[0])"
                $0.pubEndpoint = "tcp://127.0.0.1:\(ports[1])"
                $0.topicFaults = faults
            }
        }
        var node = try start()
        do {
            let client = try GanglionClient(endpoint: node.endpoints.api)
            _ = try await client.createTopic("restarting", partitions: 1)
            client.close()
        }
        faults.delayNextSyncs(1, by: .seconds(2))
        let process = Process()
        process.executableURL = try ganglionExecutable(self)
        process.arguments = ["publish", "restarting", "--node", node.endpoints.api, "--key", "k", "--data", "once", "--retry-for", "30"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try await Task.sleep(for: .milliseconds(800))  // the produce waits on its fsync
        node.stop()
        try await Task.sleep(for: .seconds(3))
        node = try start()
        defer { node.stop() }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        let events = try await storedEvents(client, "restarting")
        XCTAssertEqual(events.map { String(decoding: $0.data, as: UTF8.self) }, ["once"], "stored once: \(text)")
    }
}
