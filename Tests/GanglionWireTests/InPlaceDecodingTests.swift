import Foundation
import SwiftProtobuf
import XCTest
@testable import GanglionWire

/// `Message.init(inPlace:)` decodes as the copying decoder does and keeps nothing that refers to
/// the buffer it read.
final class InPlaceDecodingTests: XCTestCase {
    private func envelope(_ index: Int) -> EventEnvelope {
        var envelope = EventEnvelope()
        envelope.id = "evt-\(index)"
        envelope.type = String(repeating: "t", count: index % 40)
        envelope.key = Data((0..<(index % 17)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        envelope.data = Data((0..<(index * 7 % 300)).map { UInt8(truncatingIfNeeded: $0) })
        envelope.extensions = index % 3 == 0 ? [:] : ["n": "\(index)"]
        envelope.time = Google_Protobuf_Timestamp(seconds: Int64(index), nanos: Int32(index % 1000))
        return envelope
    }

    func testDecodesAsTheCopyingDecoderAndKeepsNothingOfTheBuffer() throws {
        for index in 0..<200 {
            let expected = envelope(index)
            var bytes: [UInt8] = try expected.serializedBytes()
            let decoded = try bytes.withUnsafeBytes { try EventEnvelope(inPlace: $0) }
            XCTAssertEqual(decoded, try EventEnvelope(serializedBytes: bytes))
            // The buffer is overwritten: what was decoded must not change with it.
            for position in bytes.indices { bytes[position] = 0xEE }
            XCTAssertEqual(decoded, expected, "event \(index)")
        }
    }

    func testKeepsUnknownFieldsAndDecodesEmptyAsDefault() throws {
        // Field 99 (varint 7) is unknown to the header: kept, and written back out.
        var header = Ganglion_V1_RequestHeader()
        header.requestID = 42
        var bytes: [UInt8] = try header.serializedBytes()
        bytes += [0x98, 0x06, 0x07]
        let decoded = try bytes.withUnsafeBytes { try Ganglion_V1_RequestHeader(inPlace: $0) }
        XCTAssertEqual(decoded.requestID, 42)
        XCTAssertEqual(Array(decoded.unknownFields.data), [0x98, 0x06, 0x07])
        XCTAssertEqual(try [UInt8]().withUnsafeBytes { try Ganglion_V1_RequestHeader(inPlace: $0) }, Ganglion_V1_RequestHeader())
    }

    func testRefusesMalformedBytes() {
        // A length-delimited field (the client id) claiming more bytes than follow.
        let bytes: [UInt8] = [0x1A, 0x10, 0x61]
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try Ganglion_V1_RequestHeader(inPlace: $0) })
    }
}
