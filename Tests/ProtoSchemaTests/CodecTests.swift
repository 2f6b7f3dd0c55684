import Foundation
import SwiftProtobuf
import XCTest
@testable import ProtoSchema

/// The dynamic codec: binary → JSON → binary round trips, checked against protoc's own
/// `--encode`/`--decode`, plus validation and JSON errors that name the field.
final class CodecTests: XCTestCase {
    static let root = DifferentialTests.corpus + "/codec"

    private func schema() throws -> SchemaSet {
        let output = try ProtoCompiler(importPaths: [Self.root]).compile(["kinds.proto", "legacy.proto"])
        return SchemaSet(files: output.allFiles)
    }

    /// Runs protoc --encode or --decode with `input` on stdin.
    private func protoc(_ mode: String, type: String, file: String, input: Data) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try XCTUnwrap(Protoc.path))
        process.arguments = ["-I", Self.root, "-I", "/usr/include", "--\(mode)=\(type)", file]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, "protoc --\(mode): \(errors)")
        return output
    }

    private static let kindsText = """
        f_double: 1.5 f_float: -2.25 f_int32: -7 f_int64: -9007199254740993 f_uint32: 4000000000
        f_uint64: 18446744073709551615 f_sint32: -3 f_sint64: -4 f_fixed32: 5 f_fixed64: 6 f_sfixed32: -8 f_sfixed64: -9
        f_bool: true f_string: "héllo \\"world\\"" f_bytes: "\\000\\001\\377binary" f_enum: GREEN
        f_child { name: "kid" values: [1, 2, 3] } f_optional: 0
        r_double: [0.5, -1e10] r_sint64: [-1, 1, -9223372036854775808] r_string: ["a", ""] r_enum: [RED, GREEN]
        r_child { name: "one" } r_child { values: 9 }
        m_counts { key: "x" value: 10 } m_counts { key: "y" value: -20 }
        m_children { key: 7 value { name: "seven" } } m_flags { key: true value: "yes" }
        c_child { name: "chosen" }
        w_time { seconds: 1790000000 nanos: 120000000 } w_duration { seconds: -3 nanos: -500000000 }
        w_int64 { value: 12 } w_string { value: "" } w_bool { value: false }
        w_struct { fields { key: "k" value { list_value { values { number_value: 1 } values { string_value: "s" } values { null_value: NULL_VALUE } } } } }
        w_value { bool_value: true } w_list { values { struct_value { } } }
        w_mask { paths: "f_child.name" paths: "r_double" }
        w_any { type_url: "type.googleapis.com/codec.v1.Child" value: "\\n\\003any" }
        w_empty { } w_bytes { value: "\\001" }
        """

    func testEveryKindRoundTripsThroughJSONAsProtocReadsIt() throws {
        let schema = try schema()
        let binary = try protoc("encode", type: "codec.v1.Kinds", file: "kinds.proto", input: Data(Self.kindsText.utf8))
        let json = try schema.json(fromBinary: Array(binary), messageType: "codec.v1.Kinds")
        print("kinds JSON: \(json)")
        let back = try schema.binary(fromJSON: json, messageType: "codec.v1.Kinds")
        let original = try protoc("decode", type: "codec.v1.Kinds", file: "kinds.proto", input: binary)
        let roundTripped = try protoc("decode", type: "codec.v1.Kinds", file: "kinds.proto", input: Data(back))
        XCTAssertEqual(String(decoding: roundTripped, as: UTF8.self), String(decoding: original, as: UTF8.self), "JSON was: \(json)")
        // And the JSON itself follows the proto3 mapping.
        for fragment in ["\"fInt64\":\"-9007199254740993\"", "\"fUint64\":\"18446744073709551615\"", "\"fEnum\":\"GREEN\"",
                         "\"fBytes\":\"AAH/YmluYXJ5\"", "\"fOptional\":0", "\"wTime\":\"2026-09-21T14:13:20.120Z\"",
                         "\"wDuration\":\"-3.500s\"", "\"wInt64\":\"12\"", "\"wMask\":\"fChild.name,rDouble\"",
                         "\"wAny\":{\"@type\":\"type.googleapis.com/codec.v1.Child\",\"name\":\"any\"}", "\"wEmpty\":{}",
                         "\"mFlags\":{\"true\":\"yes\"}", "\"wStruct\":{\"k\":[1.0,\"s\",null]}", "\"wString\":\"\""] {
            XCTAssertTrue(json.contains(fragment), "missing \(fragment) in \(json)")
        }
        XCTAssertFalse(json.contains("fFloat\":0"), "proto3 defaults are omitted")
    }

    func testProto2RequiredPackedAndGroupsRoundTrip() throws {
        let schema = try schema()
        let text = "id: \"L-1\" level: HIGH packed_values: [1, 2, 300] unpacked_values: [4, 5] Extra { note: \"n\" }"
        let binary = try protoc("encode", type: "codec.v1.Legacy", file: "legacy.proto", input: Data(text.utf8))
        let json = try schema.json(fromBinary: Array(binary), messageType: "codec.v1.Legacy")
        XCTAssertEqual(json, "{\"id\":\"L-1\",\"level\":\"HIGH\",\"packedValues\":[1,2,300],\"unpackedValues\":[4,5],\"extra\":{\"note\":\"n\"}}")
        let back = try schema.binary(fromJSON: json, messageType: "codec.v1.Legacy")
        XCTAssertEqual(back, Array(binary), "the same bytes protoc wrote (packed and unpacked as declared)")
    }

    func testValidationNamesTheFieldThatIsWrong() throws {
        let schema = try schema()
        // Field 14 (string) sent as a varint.
        XCTAssertThrowsError(try schema.validate(binary: [0x70, 0x01], messageType: "codec.v1.Kinds")) { error in
            XCTAssertEqual((error as? CodecError)?.path, "codec.v1.Kinds.f_string")
        }
        // Invalid UTF-8 in a string.
        XCTAssertThrowsError(try schema.validate(binary: [0x72, 0x02, 0xC3, 0x28], messageType: "codec.v1.Kinds")) { error in
            XCTAssertTrue((error as? CodecError)?.message.contains("UTF-8") ?? false)
        }
        // A proto2 required field missing.
        XCTAssertThrowsError(try schema.validate(binary: [0x10, 0x01], messageType: "codec.v1.Legacy")) { error in
            XCTAssertEqual((error as? CodecError)?.path, "codec.v1.Legacy.id")
        }
        // Truncated input, and a nested message with a bad field.
        XCTAssertThrowsError(try schema.validate(binary: [0x8A, 0x01, 0x05, 0x0A], messageType: "codec.v1.Kinds"))
        XCTAssertThrowsError(try schema.validate(binary: [0x8A, 0x01, 0x02, 0x08, 0x01], messageType: "codec.v1.Kinds")) { error in
            XCTAssertEqual((error as? CodecError)?.path, "codec.v1.Kinds.f_child.name")
        }
        XCTAssertNoThrow(try schema.validate(binary: [0xF8, 0x07, 0x01], messageType: "codec.v1.Kinds"), "unknown fields are allowed")
        XCTAssertThrowsError(try schema.validate(binary: [], messageType: "codec.v1.Nope"))
    }

    func testJSONErrorsNameTheField() throws {
        let schema = try schema()
        let cases: [(String, String)] = [
            ("{\"noSuchField\": 1}", "codec.v1.Kinds.noSuchField"),
            ("{\"fInt32\": \"abc\"}", "codec.v1.Kinds.f_int32"),
            ("{\"fInt32\": 3000000000}", "codec.v1.Kinds.f_int32"),
            ("{\"fEnum\": \"PURPLE\"}", "codec.v1.Kinds.f_enum"),
            ("{\"rChild\": [{\"name\": 5}]}", "codec.v1.Kinds.r_child[0].name"),
            ("{\"cText\": \"a\", \"cChild\": {}}", "codec.v1.Kinds.c_child"),
            ("{\"wTime\": \"yesterday\"}", "codec.v1.Kinds.w_time"),
            ("{\"fBytes\": \"***\"}", "codec.v1.Kinds.f_bytes"),
        ]
        for (json, path) in cases {
            XCTAssertThrowsError(try schema.binary(fromJSON: json, messageType: "codec.v1.Kinds"), json) { error in
                XCTAssertEqual((error as? CodecError)?.path, path, "\(json): \(error)")
            }
        }
        XCTAssertThrowsError(try schema.binary(fromJSON: "{\"fInt32\": ", messageType: "codec.v1.Kinds"))
        // Any with an empty or slash-less type URL (found by the fuzzer): an error, not a crash.
        XCTAssertThrowsError(try schema.binary(fromJSON: "{\"wAny\": {\"@type\": \"\"}}", messageType: "codec.v1.Kinds"))
        XCTAssertThrowsError(try schema.binary(fromJSON: "{\"wAny\": {\"@type\": \"nope\"}}", messageType: "codec.v1.Kinds"))
        XCTAssertThrowsError(try schema.binary(fromJSON: "{\"level\": \"LOW\"}", messageType: "codec.v1.Legacy")) { error in
            XCTAssertEqual((error as? CodecError)?.path, "codec.v1.Legacy.id")
        }
        // Field names as declared are accepted too, and integers may be strings.
        XCTAssertEqual(try schema.binary(fromJSON: "{\"f_int64\": \"5\", \"fInt32\": 1e2}", messageType: "codec.v1.Kinds"), [0x18, 0x64, 0x20, 0x05])
    }
}
