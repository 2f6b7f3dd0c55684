@testable import ClusterRuntime
import Foundation
import GanglionWire
import XCTest

/// CloudEvents' HTTP binding read into envelopes (no node): every attribute lands where the
/// producer puts it, data keeps the sender's bytes, and each refusal names the field.
final class CloudEventsBindingTests: XCTestCase {
    private func refusal(_ body: () throws -> Any) -> HTTPIngestError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? HTTPIngestError
        }
    }

    private let required = [("ce-id", "e-1"), ("ce-source", "/sensors/7"), ("ce-type", "reading.taken"), ("ce-specversion", "1.0")]

    func testBinaryModeMapsEveryAttributeAndKeepsTheBodyAsData() throws {
        let headers = required + [("content-type", "text/plain; charset=utf-8"), ("ce-subject", "room%2F1"), ("ce-time", "2026-11-21T10:00:01.123456789+01:00"),
                                  ("ce-dataschema", "urn:reading"), ("ce-partitionkey", "device-7"), ("ce-traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                                  ("ce-correlationid", "c-1"), ("ce-causationid", "e-0"), ("ce-schemaid", "12"), ("ce-messagename", "iot.Reading"),
                                  ("ce-region", "eu1"), ("x-other", "ignored")]
        let events = try CloudEventsBinding.events(headers: headers, body: Array("21.5 °C".utf8))
        XCTAssertEqual(events.count, 1)
        let event = events[0]
        XCTAssertEqual(event.id, "e-1")
        XCTAssertEqual(event.source, "/sensors/7")
        XCTAssertEqual(event.type, "reading.taken")
        XCTAssertEqual(event.specVersion, "1.0")
        XCTAssertEqual(event.subject, "room/1", "header values are percent-decoded")
        XCTAssertEqual(event.time.seconds, 1_795_251_601, "10:00:01+01:00 is 09:00:01Z")
        XCTAssertEqual(event.time.nanos, 123_456_789)
        XCTAssertEqual(event.dataSchema, "urn:reading")
        XCTAssertEqual(event.dataContentType, "text/plain; charset=utf-8")
        XCTAssertEqual(event.key, Data("device-7".utf8), "partitionkey is the record key")
        XCTAssertEqual(event.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        XCTAssertEqual(event.correlationID, "c-1")
        XCTAssertEqual(event.causationID, "e-0")
        XCTAssertEqual(event.schemaID, 12)
        XCTAssertEqual(event.messageName, "iot.Reading")
        XCTAssertEqual(event.extensions, ["region": "eu1"], "other ce-* headers are extensions")
        XCTAssertEqual(event.data, Data("21.5 °C".utf8))
    }

    func testBinaryModeRefusalsNameTheHeader() {
        func without(_ name: String) -> [(String, String)] { required.filter { $0.0 != name } }
        for name in ["ce-id", "ce-source", "ce-type", "ce-specversion"] {
            let error = refusal { try CloudEventsBinding.events(headers: without(name), body: []) }
            XCTAssertEqual(error?.code, .missingAttribute, name)
            XCTAssertEqual(error?.field, name)
            XCTAssertEqual(error?.status, 400)
        }
        let cases: [(String, String, String)] = [("ce-specversion", "0.3", "1.0 only"), ("ce-time", "yesterday", "RFC 3339"), ("ce-time", "2026-02-30T00:00:00Z", "RFC 3339"),
                                                 ("ce-schemaid", "-1", "schema id"), ("ce-Bad_Name", "x", "lower-case"), ("ce-subject", "%E0%A4%A", "percent")]
        for (name, value, words) in cases {
            let headers = without(name).map { ($0.0, $0.1) } + [(name.lowercased(), value)]
            let error = refusal { try CloudEventsBinding.events(headers: headers, body: []) }
            XCTAssertEqual(error?.code, .invalidAttribute, "\(name): \(value)")
            XCTAssertEqual(error?.field, name.lowercased())
            XCTAssertTrue(error?.message.contains(words) == true, error?.message ?? "accepted \(name): \(value)")
        }
        let other = refusal { try CloudEventsBinding.events(headers: [("content-type", "application/cloudevents+xml")], body: []) }
        XCTAssertEqual(other?.status, 415)
    }

    func testStructuredModeKeepsJSONDataAsWrittenAndDecodesBase64() throws {
        let body = #"{"specversion":"1.0","id":"s-1","source":"/shop","type":"order.created","partitionkey":"acct-1","priority":3,"urgent":true,"subject":null,"data":{"b": 1.50, "a":[1, 2]}}"#
        let event = try CloudEventsBinding.events(headers: [("content-type", "application/cloudevents+json; charset=utf-8")], body: Array(body.utf8))[0]
        XCTAssertEqual(String(decoding: event.data, as: UTF8.self), #"{"b": 1.50, "a":[1, 2]}"#, "the data's bytes, not a re-encoding")
        XCTAssertEqual(event.dataContentType, "application/json")
        XCTAssertEqual(event.key, Data("acct-1".utf8))
        XCTAssertEqual(event.extensions, ["priority": "3", "urgent": "true"])
        XCTAssertEqual(event.subject, "", "null is absent")

        let binary = #"{"specversion":"1.0","id":"s-2","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAEC/w=="}"#
        XCTAssertEqual(try CloudEventsBinding.structured(Array(binary.utf8)).data, Data([0, 1, 2, 255]))
        let text = #"{"specversion":"1.0","id":"s-3","source":"/s","type":"t","datacontenttype":"text/plain","data":"hello \"world\""}"#
        XCTAssertEqual(try CloudEventsBinding.structured(Array(text.utf8)).data, Data(#"hello "world""#.utf8))
    }

    func testBatchModeReadsEveryEventAndNamesTheBadOneByIndex() throws {
        let batch = #"[{"specversion":"1.0","id":"b-1","source":"/s","type":"t","data":"x"}, {"specversion":"1.0","id":"b-2","source":"/s","type":"t","data":[1,{"k":"]"}]}]"#
        let events = try CloudEventsBinding.events(headers: [("content-type", "application/cloudevents-batch+json")], body: Array(batch.utf8))
        XCTAssertEqual(events.map(\.id), ["b-1", "b-2"])
        XCTAssertEqual(events.map { String(decoding: $0.data, as: UTF8.self) }, [#""x""#, #"[1,{"k":"]"}]"#])
        XCTAssertEqual(try CloudEventsBinding.batch(Array("[]".utf8)).count, 0)

        let missing = refusal { try CloudEventsBinding.batch(Array(#"[{"specversion":"1.0","id":"b-1","source":"/s","type":"t"},{"specversion":"1.0","source":"/s","type":"t"}]"#.utf8)) }
        XCTAssertEqual(missing?.field, "[1].id")
        XCTAssertEqual(missing?.code, .missingAttribute)
        let notObject = refusal { try CloudEventsBinding.batch(Array("[1]".utf8)) }
        XCTAssertEqual(notObject?.field, "[0]")
        let badJSON = refusal { try CloudEventsBinding.batch(Array("[{\"id\":".utf8)) }
        XCTAssertEqual(badJSON?.code, .malformedJSON)
        XCTAssertEqual(badJSON?.field, "body")
        let wrongShape = refusal { try CloudEventsBinding.structured(Array("[]".utf8)) }
        XCTAssertEqual(wrongShape?.code, .malformedJSON)
        let both = refusal { try CloudEventsBinding.structured(Array(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","data":1,"data_base64":"AA=="}"#.utf8)) }
        XCTAssertEqual(both?.field, "data_base64")
        let numericID = refusal { try CloudEventsBinding.structured(Array(#"{"specversion":"1.0","id":7,"source":"/s","type":"t"}"#.utf8)) }
        XCTAssertEqual(numericID?.field, "id")
    }

    func testRFC3339Times() {
        XCTAssertEqual(RFC3339Time.parse("1970-01-01T00:00:00Z")?.seconds, 0)
        XCTAssertEqual(RFC3339Time.parse("2000-02-29T23:59:59.5-00:30")?.seconds, 951_870_599)
        XCTAssertEqual(RFC3339Time.parse("2000-02-29T23:59:59.5-00:30")?.nanos, 500_000_000)
        XCTAssertEqual(RFC3339Time.parse("1969-12-31t23:59:59z")?.seconds, -1)
        for bad in ["2026-11-21", "2026-11-21T10:00:00", "2026-13-01T00:00:00Z", "2026-11-21T10:00:00.Z", "2026-11-21T10:00:00+0100", "2026-11-21T25:00:00Z"] {
            XCTAssertNil(RFC3339Time.parse(bad), bad)
        }
    }

    /// Random JSON data (seeded: a failure prints the seed) in random spacing, single and batched:
    /// each event's data is exactly the text written for it.
    func testJSONDataSpansMatchTheTextWrittenForAnySeed() throws {
        for seed in UInt64(1)...200 {
            var random = SplitMix64(seed: seed)
            let values = (0..<3).map { _ in Self.jsonText(&random, depth: 0) }
            let space = [" ", "\n", "\t", ""]
            let members = values.enumerated().map { index, value in
                let gap = space[Int(random.next() % 4)]
                return #"{"specversion":"1.0",\#(gap)"id":"e\#(index)","source":"/s","type":"t",\#(gap)"data"\#(gap):\#(gap)\#(value)\#(gap)}"#
            }
            let events = try CloudEventsBinding.batch(Array(("[" + members.joined(separator: " ,\n") + "]").utf8))
            let expected = values.map { $0 == "null" ? "" : $0 }   // null data is absent data
            XCTAssertEqual(events.map { String(decoding: $0.data, as: UTF8.self) }, expected, "seed \(seed)")
            XCTAssertEqual(String(decoding: try CloudEventsBinding.structured(Array(members[0].utf8)).data, as: UTF8.self), expected[0], "seed \(seed)")
        }
    }

    private static func jsonText(_ random: inout SplitMix64, depth: Int) -> String {
        let strings = [#""plain""#, #""with \"quotes\" and \\ and ] } , :""#, #""ünïcödé \u00e9""#, #""""#]
        switch random.next() % (depth > 3 ? 4 : 6) {
        case 0: return ["0", "-1.5e3", "12.50", "1234567890123456789"][Int(random.next() % 4)]
        case 1: return strings[Int(random.next() % UInt64(strings.count))]
        case 2: return ["true", "false", "null"][Int(random.next() % 3)]
        case 3: return "[]"
        case 4: return "[" + (0..<Int(random.next() % 4)).map { _ in jsonText(&random, depth: depth + 1) }.joined(separator: ", ") + "]"
        default:
            return "{" + (0..<Int(random.next() % 4)).map { index in #""k\#(index)" : "# + jsonText(&random, depth: depth + 1) }.joined(separator: ",") + "}"
        }
    }
}

/// A small seeded generator (SplitMix64), so a failing case replays from its seed.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
