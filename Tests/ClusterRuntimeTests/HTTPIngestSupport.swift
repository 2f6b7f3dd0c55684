import AsyncHTTPClient
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import NIOCore
import NIOHTTP1
import XCTest

/// A node with HTTP ingest running in the test's process as `ganglion node` runs it
/// (``AgentNode``: the node, its HTTP port, graceful shutdown), on OS-chosen ports.
struct IngestNode {
    let running: Task<Void, any Error>
    /// The request endpoint (for a ``GanglionClient`` to read back what was stored).
    let api: String
    /// The HTTP base URL.
    let http: String

    /// Shuts the node down gracefully and waits for it.
    func stop() async {
        running.cancel()
        _ = await running.result
    }
}

func startIngestNode(_ directory: String, ingest: HTTPIngestSettings = HTTPIngestSettings(), faults: LogFaults? = nil,
                     _ change: (inout NodeConfiguration) -> Void = { _ in }) async throws -> IngestNode {
    try? FileManager.default.removeItem(atPath: directory + "/endpoints.json")
    var configuration = NodeConfiguration()
    configuration.dataDirectory = directory
    configuration.apiEndpoint = "tcp://127.0.0.1:0"
    configuration.pubEndpoint = "tcp://127.0.0.1:0"
    configuration.topicFaults = faults
    change(&configuration)
    var node = AgentNode(configuration: configuration)
    node.httpPort = 0
    node.httpIngest = ingest
    let running = Task { [node] in try await node.run(bootstrapObservability: false) }
    let http = try await httpEndpoint(directory)
    let endpoints = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/endpoints.json"))) as? [String: String]
    return IngestNode(running: running, api: endpoints?["api"] ?? "", http: http)
}

/// A test's teardown: stops `nodes` (waiting for each, so nothing writes to `directory` any
/// more), removes the directory, and fails the test if something wrote to it afterwards.
func stopAndRemove(_ nodes: [IngestNode], directory: String, file: StaticString = #filePath, line: UInt = #line) async {
    for node in nodes { await node.stop() }
    try? FileManager.default.removeItem(atPath: directory)
    XCTAssertFalse(FileManager.default.fileExists(atPath: directory), "something wrote to \(directory) after its node stopped", file: file, line: line)
}

/// One HTTP answer: status, headers (lower-cased names) and body.
struct HTTPAnswer {
    let status: Int
    let headers: [String: String]
    let body: [UInt8]
    /// The body as a JSON object (empty when it is not one).
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    /// The body as text, for failure messages.
    var text: String { "\(status) " + String(decoding: body, as: UTF8.self) }
}

/// POSTs `body` with `headers` over a kept-alive connection (AsyncHTTPClient's shared client).
func httpPost(_ url: String, _ headers: [(String, String)], _ body: [UInt8]) async throws -> HTTPAnswer {
    try await httpRequest(.POST, url, headers, body)
}

/// Sends one request of `method` with `headers` and `body` (AsyncHTTPClient's shared client).
func httpRequest(_ method: HTTPMethod, _ url: String, _ headers: [(String, String)], _ body: [UInt8] = []) async throws -> HTTPAnswer {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    request.body = .bytes(ByteBuffer(bytes: body))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let bytes = try await response.body.collect(upTo: 16 << 20)
    var fields: [String: String] = [:]
    for header in response.headers { fields[header.name.lowercased()] = header.value }
    return HTTPAnswer(status: Int(response.status.code), headers: fields, body: Array(buffer: bytes))
}
