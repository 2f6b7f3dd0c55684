import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// `POST /v1/topics/{topic}/events` through a real node over real HTTP: each CloudEvents mode is
/// stored through the produce path and read back as sent (ids, types, sources, keys, data
/// bytes) at the partition and offset the answer gave; bad input is refused naming the field,
/// stores nothing, and the node goes on serving.
final class HTTPIngestTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-http-ingest-" + UUID().uuidString }
    /// Every node the test started, stopped and waited for before its directory is removed (also
    /// when the test failed or threw before stopping it).
    private var started: [IngestNode] = []

    override func tearDown() async throws {
        await stopAndRemove(started, directory: directory)
        started = []
    }

    /// Every stored event of `topic` by id, with its partition and offset.
    private func stored(_ client: GanglionClient, _ topic: String, partitions: UInt32) async throws -> [String: (event: EventEnvelope, partition: UInt32, offset: Int64)] {
        var found: [String: (event: EventEnvelope, partition: UInt32, offset: Int64)] = [:]
        for partition in 0..<partitions {
            for record in try await client.readAll(topic: topic, partition: partition) {
                let event = try EventEnvelope(serializedBytes: record.value ?? [])
                XCTAssertNil(found[event.id], "\(event.id) stored once")
                XCTAssertEqual(record.key.map { Data($0) } ?? Data(), event.key, "the record key is the event's key")
                found[event.id] = (event, partition, record.offset)
            }
        }
        return found
    }

    func testEachCloudEventsModeIsStoredAndReadBackAsSent() async throws {
        let node = try await startIngestNode(directory)
        started.append(node)
        let client = try GanglionClient(endpoint: node.api)
        defer { client.close() }
        try await client.createTopic("readings", partitions: 3)
        let url = node.http + "/v1/topics/readings/events"
        let payload = (0..<256).map { UInt8($0 % 251) }

        let binary = try await httpPost(url, [("ce-id", "bin-1"), ("ce-source", "/sensors/7"), ("ce-type", "reading.taken"), ("ce-specversion", "1.0"),
                                              ("ce-partitionkey", "device-7"), ("ce-time", "2026-11-21T10:00:00.5Z"), ("ce-unit", "celsius"),
                                              ("Content-Type", "application/octet-stream")], payload)
        XCTAssertEqual(binary.status, 201, binary.text)
        let binaryAt = try XCTUnwrap((binary.json["events"] as? [[String: Any]])?.first)
        XCTAssertEqual(binaryAt["partition"] as? Int, Int(KeyPartitioner.partition(for: Array("device-7".utf8), partitionCount: 3)))

        let structured = #"{"specversion":"1.0","id":"str-1","source":"/shop","type":"order.created","partitionkey":"acct-1","data":{"amount": 12.50}}"#
        let answer = try await httpPost(url, [("Content-Type", "application/cloudevents+json")], Array(structured.utf8))
        XCTAssertEqual(answer.status, 201, answer.text)

        let batch = (1...5).map { #"{"specversion":"1.0","id":"bat-\#($0)","source":"/batch","type":"tick","partitionkey":"k-\#($0 % 2)","data":\#($0)}"# }
        let batched = try await httpPost(url, [("Content-Type", "application/cloudevents-batch+json")], Array("[\(batch.joined(separator: ","))]".utf8))
        XCTAssertEqual(batched.status, 201, batched.text)
        let places = try XCTUnwrap(batched.json["events"] as? [[String: Any]])
        XCTAssertEqual(places.map { $0["id"] as? String }, (1...5).map { "bat-\($0)" }, "one entry per event, in the request's order")

        let events = try await stored(client, "readings", partitions: 3)
        XCTAssertEqual(Set(events.keys), Set(["bin-1", "str-1"] + (1...5).map { "bat-\($0)" }))
        let reading = try XCTUnwrap(events["bin-1"])
        XCTAssertEqual(reading.event.type, "reading.taken")
        XCTAssertEqual(reading.event.source, "/sensors/7")
        XCTAssertEqual(reading.event.specVersion, "1.0")
        XCTAssertEqual(reading.event.data, Data(payload))
        XCTAssertEqual(reading.event.dataContentType, "application/octet-stream")
        XCTAssertEqual(reading.event.key, Data("device-7".utf8))
        XCTAssertEqual(reading.event.extensions, ["unit": "celsius"])
        XCTAssertEqual(reading.event.time.seconds, 1_795_255_200)
        XCTAssertEqual(reading.partition, UInt32(binaryAt["partition"] as? Int ?? -1))
        XCTAssertEqual(reading.offset, Int64(binaryAt["offset"] as? Int ?? -1), "stored where the answer said")
        XCTAssertEqual(events["str-1"]?.event.data, Data(#"{"amount": 12.50}"#.utf8), "JSON data as the sender wrote it")
        XCTAssertEqual(events["str-1"]?.event.type, "order.created")
        for place in places {
            let id = try XCTUnwrap(place["id"] as? String)
            XCTAssertEqual(events[id]?.partition, UInt32(place["partition"] as? Int ?? -1), id)
            XCTAssertEqual(events[id]?.offset, Int64(place["offset"] as? Int ?? -1), id)
            XCTAssertEqual(events[id]?.event.data, Data(id.dropFirst(4).utf8), id)
        }
        // Events of one key keep the request's order within their partition.
        let oddKey = (1...5).filter { $0 % 2 == 1 }.compactMap { events["bat-\($0)"]?.offset }
        XCTAssertEqual(oddKey, oddKey.sorted())
        await node.stop()
    }

    func testBadRequestsAreRefusedNamingTheFieldAndStoreNothing() async throws {
        var settings = HTTPIngestSettings()
        settings.maxBodyBytes = 4_096
        let node = try await startIngestNode(directory, ingest: settings)
        started.append(node)
        let client = try GanglionClient(endpoint: node.api)
        defer { client.close() }
        try await client.createTopic("orders", partitions: 1)
        let url = node.http + "/v1/topics/orders/events"
        let good = [("ce-id", "o-1"), ("ce-source", "/shop"), ("ce-type", "order.created"), ("ce-specversion", "1.0")]
        let cases: [(String, [(String, String)], [UInt8], Int, String, String?)] = [
            ("no ce-id", good.filter { $0.0 != "ce-id" }, [], 400, "missing_attribute", "ce-id"),
            ("specversion 0.3", good.filter { $0.0 != "ce-specversion" } + [("ce-specversion", "0.3")], [], 400, "invalid_attribute", "ce-specversion"),
            ("a bad time", good + [("ce-time", "now")], [], 400, "invalid_attribute", "ce-time"),
            ("no headers at all", [], Array("{}".utf8), 400, "missing_attribute", "ce-specversion"),
            ("bad JSON", [("Content-Type", "application/cloudevents+json")], Array("{\"id\": ".utf8), 400, "malformed_json", "body"),
            ("a batch member without type", [("Content-Type", "application/cloudevents-batch+json")],
             Array(#"[{"specversion":"1.0","id":"a","source":"/s","type":"t"},{"specversion":"1.0","id":"b","source":"/s"}]"#.utf8), 400, "missing_attribute", "[1].type"),
            ("another event format", [("Content-Type", "application/cloudevents+avro")], [1], 415, "unsupported_media_type", "content-type"),
            ("an oversized body", good, [UInt8](repeating: 7, count: 5_000), 413, "body_too_large", "body"),
        ]
        for (what, headers, body, status, code, field) in cases {
            let answer = try await httpPost(url, headers, body)
            XCTAssertEqual(answer.status, status, "\(what): \(answer.text)")
            XCTAssertEqual(answer.json["error"] as? String, code, what)
            XCTAssertEqual(answer.json["field"] as? String, field, what)
            XCTAssertFalse((answer.json["message"] as? String ?? "").isEmpty, what)
        }
        let unknown = try await httpPost(node.http + "/v1/topics/nope/events", good, [])
        XCTAssertEqual(unknown.status, 404, unknown.text)
        XCTAssertTrue((unknown.json["message"] as? String ?? "").contains("topic nope does not exist"), unknown.text)
        let stored = try await client.metadata(topics: ["orders"]).topics[0].partitions[0].highWatermark
        XCTAssertEqual(stored, 0, "nothing of a refused request is stored")
        // The node goes on serving.
        let after = try await httpPost(url, good, Array("{}".utf8))
        XCTAssertEqual(after.status, 201, after.text)
        await node.stop()
    }

    func testASchemaViolationIs422AndAConformingProtobufEventIsStored() async throws {
        let node = try await startIngestNode(directory)
        started.append(node)
        let client = try GanglionClient(endpoint: node.api)
        defer { client.close() }
        let (schemaID, _) = try await client.registerSchema(subject: "orders-value", schema: "syntax = \"proto3\";\nmessage Order { string order_id = 1; int32 quantity = 2; }\n")
        try await client.createTopic("orders", partitions: 2, subject: "orders-value", validation: .full)
        let url = node.http + "/v1/topics/orders/events"
        let headers = [("ce-id", "o-1"), ("ce-source", "/shop"), ("ce-type", "order.created"), ("ce-specversion", "1.0"), ("Content-Type", "application/protobuf")]
        let order: [UInt8] = [0x0A, 0x03] + Array("o-1".utf8) + [0x10, 0x02]
        let good = try await httpPost(url, headers + [("ce-schemaid", "\(schemaID)")], order)
        XCTAssertEqual(good.status, 201, good.text)
        let undecodable = try await httpPost(url, headers + [("ce-schemaid", "\(schemaID)")], [0x0A, 0xFF])
        XCTAssertEqual(undecodable.status, 422, undecodable.text)
        XCTAssertEqual(undecodable.json["error"] as? String, "rejected")
        XCTAssertTrue((undecodable.json["message"] as? String ?? "").contains("nothing of the batch was stored"), undecodable.text)
        let unregistered = try await httpPost(url, headers, order)
        XCTAssertEqual(unregistered.status, 422, unregistered.text)
        // A batch across both partitions with one bad event stores none of them.
        let batch = (0..<6).map { #"{"specversion":"1.0","id":"b-\#($0)","source":"/s","type":"t","partitionkey":"k\#($0)","schemaid":"\#($0 == 5 ? 999 : schemaID)","datacontenttype":"application/protobuf","data_base64":"\#(Data(order).base64EncodedString())"}"# }
        let mixed = try await httpPost(url, [("Content-Type", "application/cloudevents-batch+json")], Array("[\(batch.joined(separator: ","))]".utf8))
        XCTAssertEqual(mixed.status, 422, mixed.text)
        let partitions = try await client.metadata(topics: ["orders"]).topics[0].partitions
        XCTAssertEqual(partitions.map(\.highWatermark).reduce(0, +), 1, "only the conforming event was stored")
        await node.stop()
    }

    func testABusyNodeAnswers429WithRetryAfter() async throws {
        var settings = HTTPIngestSettings()
        settings.maxRequestsInFlight = 1
        let faults = LogFaults()
        let node = try await startIngestNode(directory, ingest: settings, faults: faults)
        started.append(node)
        let client = try GanglionClient(endpoint: node.api)
        defer { client.close() }
        try await client.createTopic("slow", partitions: 1)
        let url = node.http + "/v1/topics/slow/events"
        func event(_ id: String) -> [(String, String)] { [("ce-id", id), ("ce-source", "/s"), ("ce-type", "t"), ("ce-specversion", "1.0")] }
        let warm = try await httpPost(url, event("warm"), [1])
        XCTAssertEqual(warm.status, 201, warm.text)
        // The next fsync stalls, so the next request waits for its acknowledgement inside the window.
        faults.delayNextSyncs(1, by: .seconds(2))
        let first = Task { try await httpPost(url, event("first"), [2]) }
        try await Task.sleep(for: .milliseconds(500))
        let second = try await httpPost(url, event("second"), [3])
        XCTAssertEqual(second.status, 429, second.text)
        XCTAssertEqual(second.headers["retry-after"], "1")
        XCTAssertEqual(second.json["error"] as? String, "busy")
        let firstAnswer = try await first.value
        XCTAssertEqual(firstAnswer.status, 201, "answered once acknowledged: \(firstAnswer.text)")
        let retried = try await httpPost(url, event("second"), [3])
        XCTAssertEqual(retried.status, 201, retried.text)
        await node.stop()
    }
}
