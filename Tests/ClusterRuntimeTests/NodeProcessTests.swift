import Foundation
import Ganglion
import GanglionWire
import XCTest

/// `ganglion node` as a real process: killed with SIGKILL under load and restarted, it still
/// has every event it acknowledged (fsync per batch), and the CLI works against it.
final class NodeProcessTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-process-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func startNode() throws -> (Process, String) {
        try startNodeProcess(directory, test: self)
    }

    private func event(_ index: Int) -> EventEnvelope {
        var event = EventEnvelope()
        event.id = "evt-\(index)"
        event.type = "test"
        event.key = Data("key-\(index % 5)".utf8)
        event.data = Data("payload-\(index)".utf8)
        return event
    }

    func testHealthAndMetricsAreServedOverHTTP() async throws {
        let (node, api) = try startNode()
        defer { node.terminate(); node.waitUntilExit() }
        var http = ""
        for _ in 0..<200 where http.isEmpty {
            if let data = FileManager.default.contents(atPath: directory + "/endpoints.json"),
               let endpoints = try? JSONSerialization.jsonObject(with: data) as? [String: String] { http = endpoints["http"] ?? "" }
            if http.isEmpty { try await Task.sleep(for: .milliseconds(25)) }
        }
        XCTAssertTrue(http.hasPrefix("http://127.0.0.1:"), http)
        let client = try GanglionClient(endpoint: api)
        defer { client.close() }
        try await client.createTopic("metered", partitions: 1)
        _ = try await client.publish(topic: "metered", events: [event(1), event(2)])
        let health = try await Self.get(http + "/health")
        XCTAssertTrue(health.contains("\"status\":\"ok\""), health)
        XCTAssertTrue(health.contains("\"topics\":1"), health)
        let metrics = try await Self.get(http + "/metrics")
        XCTAssertTrue(metrics.contains("ganglion_produced_records_total{topic=\"metered\"} 2"), metrics)
        // The node's stage of the latency: one publish (one batch), in microsecond buckets.
        XCTAssertTrue(metrics.contains("ganglion_produce_local_seconds_count 1"), metrics)
        XCTAssertTrue(metrics.contains("ganglion_produce_local_seconds_bucket{le=\"0.00001\"}"), metrics)
    }

    /// The body of an HTTP GET (curl keeps the test free of FoundationNetworking's quirks).
    static func get(_ url: String) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "--max-time", "5", url]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func testEveryAcknowledgedEventSurvivesSIGKILL() async throws {
        var (node, api) = try startNode()
        var client = try GanglionClient(endpoint: api, timeout: .seconds(5))
        try await client.createTopic("ledger", partitions: 3)
        var acknowledged: [String: (UInt32, Int64)] = [:]
        let killer = Task.detached { [node] in
            try await Task.sleep(for: .milliseconds(400))
            kill(node.processIdentifier, SIGKILL)
        }
        var index = 0
        do {
            while true {
                let batch = (index..<(index + 10)).map(event)
                let offsets = try await client.publish(topic: "ledger", events: batch)
                for (position, placed) in offsets.enumerated() { acknowledged["evt-\(index + position)"] = placed }
                index += 10
            }
        } catch {}
        _ = try await killer.value
        node.waitUntilExit()
        XCTAssertEqual(node.terminationReason, .uncaughtSignal)
        client.close()
        XCTAssertGreaterThan(acknowledged.count, 0)

        (node, api) = try startNode()
        defer { node.terminate(); node.waitUntilExit() }
        client = try GanglionClient(endpoint: api, timeout: .seconds(5))
        defer { client.close() }
        var found: [String: (UInt32, Int64)] = [:]
        for partition in UInt32(0)..<3 {
            var offset: Int64 = 0
            while true {
                let (response, bytes) = try await client.fetch(topic: "ledger", partition: partition, offset: offset)
                for record in try PartitionStream.records(in: bytes, base: nil) {
                    let envelope = try EventEnvelope(serializedBytes: record.value!)
                    XCTAssertEqual(envelope.data, Data("payload-\(envelope.id.dropFirst(4))".utf8))
                    found[envelope.id] = (partition, record.offset)
                }
                if bytes.isEmpty { break }
                offset = response.nextOffset
            }
        }
        for (id, placed) in acknowledged {
            XCTAssertTrue(found[id].map { $0 == placed } ?? false, "acknowledged \(id) at \(placed) is missing after the restart")
        }
        print("SIGKILL under load: \(acknowledged.count) events acknowledged, \(found.count) found after restart")
    }
}
