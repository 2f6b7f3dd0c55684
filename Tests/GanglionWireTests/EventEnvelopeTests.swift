import Foundation
import SwiftProtobuf
import XCTest
@testable import GanglionWire

/// The event envelope survives protobuf round trips, keeps what newer writers add, and keeps its
/// wire format.
final class EventEnvelopeTests: XCTestCase {
    private func sample() -> EventEnvelope {
        var envelope = EventEnvelope()
        envelope.id = "evt-1"
        envelope.source = "/agents/fraud"
        envelope.specVersion = EventEnvelope.cloudEventsSpecVersion
        envelope.type = "com.example.transaction.created"
        envelope.subject = "account/4711"
        envelope.time = Google_Protobuf_Timestamp(seconds: 1_790_000_000, nanos: 5)
        envelope.dataContentType = EventEnvelope.protobufContentType
        envelope.dataSchema = "ganglion://schemas/42"
        envelope.key = Data("account-4711".utf8)
        envelope.schemaID = 42
        envelope.messageName = "shop.v1.TransactionCreated"
        envelope.correlationID = "corr-1"
        envelope.causationID = "evt-0"
        envelope.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        envelope.tracestate = "ganglion=1"
        envelope.extensions = ["tenant": "acme"]
        envelope.data = Data([0x08, 0x96, 0x01])
        return envelope
    }

    func testEveryAttributeSurvivesARoundTrip() throws {
        let envelope = sample()
        let bytes: [UInt8] = try envelope.serializedBytes()
        let decoded = try EventEnvelope(serializedBytes: bytes)
        XCTAssertEqual(decoded, envelope)
        XCTAssertEqual(decoded.extensions["tenant"], "acme")
        XCTAssertEqual(decoded.time.nanos, 5)
        XCTAssertEqual(EventEnvelope.protoMessageName, "ganglion.v1.EventEnvelope")
    }

    func testFieldsAddedByANewerWriterArePreservedThroughAnOlderReader() throws {
        var bytes: [UInt8] = try sample().serializedBytes()
        // A newer envelope version added field 99 (varint 7) and field 100 (string "future").
        let added: [UInt8] = [0x98, 0x06, 0x07] + [0xA2, 0x06, 0x06] + Array("future".utf8)
        bytes += added
        let decoded = try EventEnvelope(serializedBytes: bytes)
        XCTAssertEqual(decoded.id, "evt-1")
        XCTAssertEqual(Array(decoded.unknownFields.data), added)
        // Forwarded on by this (older) reader, the newer fields are still there.
        let forwarded: [UInt8] = try decoded.serializedBytes()
        XCTAssertEqual(forwarded, bytes)
        XCTAssertNotEqual(decoded, sample(), "unknown fields are part of the value")
    }

    func testTheWireFormatIsStable() throws {
        var envelope = EventEnvelope()
        envelope.id = "a"
        envelope.type = "t"
        envelope.key = Data([1])
        envelope.schemaID = 300
        envelope.data = Data([9])
        let bytes: [UInt8] = try envelope.serializedBytes()
        // id=1, type=4, key=9, schema_id=10, data=17: renumbering any of them breaks every reader.
        XCTAssertEqual(bytes, [0x0A, 0x01, 0x61, 0x22, 0x01, 0x74, 0x4A, 0x01, 0x01, 0x50, 0xAC, 0x02, 0x8A, 0x01, 0x01, 0x09])
    }

    func testMalformedBytesAreAClearError() {
        XCTAssertThrowsError(try EventEnvelope(serializedBytes: [0x0A, 0x05, 0x61])) { error in
            XCTAssertEqual(error as? BinaryDecodingError, .truncated)
        }
    }

    func testJSONMappingUsesCloudEventsStyleNames() throws {
        let json = try sample().jsonString()
        XCTAssertTrue(json.contains("\"specVersion\":\"1.0\""), json)
        XCTAssertTrue(json.contains("\"time\":\"2026-09-21T"), json)
        XCTAssertEqual(try EventEnvelope(jsonString: json), sample())
    }
}
