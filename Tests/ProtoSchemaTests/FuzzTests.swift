import Foundation
import GanglionTestKit
import XCTest
@testable import ProtoSchema

/// Random and mutated inputs: the compiler and the codec answer with errors, never crash or hang.
/// `GANGLION_FUZZ_ITERATIONS=n` runs longer; a failure prints its seed and input.
final class FuzzTests: XCTestCase {
    private static let iterations = Int(ProcessInfo.processInfo.environment["GANGLION_FUZZ_ITERATIONS"] ?? "") ?? 400

    private static func corpusTexts() throws -> [String] {
        let root = DifferentialTests.corpus + "/valid/shop"
        return try ["options.proto", "orders.proto", "events.proto", "scoping.proto"].map { try String(contentsOfFile: root + "/" + $0, encoding: .utf8) }
            + [WellKnownProtos.files["google/protobuf/descriptor.proto"]!]
    }

    /// One random edit of `text`: delete, duplicate or insert bytes, or splice in a token.
    private static func mutate(_ text: [UInt8], _ random: inout SeededGenerator) -> [UInt8] {
        var bytes = text
        let fragments = ["{", "}", ";", "=", "[", "]", "(", ")", "<", ">", "\"", "'", "/*", "//", "\\", "-", ".", "max", "to",
                         "option", "message", "enum", "map", "group", "oneof", "extend", "reserved", "extensions", "0x", "1e",
                         "2147483647", "-2147483648", "536870912", "99999999999999999999", "inf", "nan", "\u{00}", "\u{FF}", "é"]
        for _ in 0..<(1 + Int(random.next() % 4)) {
            let position = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count))
            switch random.next() % 4 {
            case 0 where !bytes.isEmpty:
                let length = min(bytes.count - position, 1 + Int(random.next() % 40))
                bytes.removeSubrange(position..<(position + length))
            case 1 where !bytes.isEmpty:
                let length = min(bytes.count - position, 1 + Int(random.next() % 40))
                bytes.insert(contentsOf: bytes[position..<(position + length)], at: position)
            case 2:
                bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
            default:
                bytes.insert(contentsOf: Array(fragments[Int(random.next() % UInt64(fragments.count))].utf8), at: position)
            }
        }
        return bytes
    }

    /// This run's seed (GanglionTestKit's ``FuzzSeed``: `GANGLION_FUZZ_SEED`, a fixed one in CI).
    static func seed() -> UInt64 { FuzzSeed.current(ci: 20_261_121) }

    func testMutatedProtoFilesGiveErrorsNotCrashes() throws {
        let texts = try Self.corpusTexts()
        let seed = Self.seed()
        print("fuzz: proto mutations, seed \(seed) (GANGLION_FUZZ_SEED=\(seed) replays)")
        var random = SeededGenerator(seed: seed)
        var rejected = 0
        for iteration in 0..<Self.iterations {
            let base = Array(texts[Int(random.next() % UInt64(texts.count))].utf8)
            let mutated = String(decoding: Self.mutate(base, &random), as: UTF8.self)
            let started = Date()
            do {
                _ = try ProtoCompiler(sources: ["fuzz.proto": mutated, "shop/options.proto": texts[0], "shop/orders.proto": texts[1]]).compile(["fuzz.proto"])
            } catch {
                rejected += 1
                XCTAssertFalse(error.errors.isEmpty, "seed \(seed) iteration \(iteration): an empty error list")
            }
            XCTAssertLessThan(Date().timeIntervalSince(started), 2, "seed \(seed) iteration \(iteration) took too long")
        }
        print("fuzz: \(Self.iterations) mutated files, \(rejected) rejected with errors, none crashed")
    }

    func testRandomBytesAreRejectedByTheCompiler() throws {
        var random = SeededGenerator(seed: 7)
        for _ in 0..<200 {
            let bytes = (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            XCTAssertThrowsError(try ProtoCompiler(sources: ["r.proto": String(decoding: bytes, as: UTF8.self) + "\n}"]).compile(["r.proto"]))
        }
    }

    func testMutatedPayloadsAndJSONGiveErrorsNotCrashes() throws {
        let output = try ProtoCompiler(importPaths: [CodecTests.root]).compile(["kinds.proto", "legacy.proto"])
        let schema = SchemaSet(files: output.allFiles)
        let valid = try schema.binary(fromJSON: """
            {"fInt64":"-5","fString":"hé","fChild":{"name":"c","values":[1,2]},"rChild":[{"name":"x"}],"mCounts":{"a":"1"},
             "wTime":"2026-01-01T00:00:00Z","wAny":{"@type":"type.googleapis.com/codec.v1.Child","name":"n"},"wStruct":{"a":[1,{"b":null}]}}
            """, messageType: "codec.v1.Kinds")
        let json = try schema.json(fromBinary: valid, messageType: "codec.v1.Kinds")
        let seed = Self.seed()
        print("fuzz: codec mutations, seed \(seed)")
        var random = SeededGenerator(seed: seed)
        var accepted = 0
        for _ in 0..<(Self.iterations * 5) {
            let bytes = Self.mutate(valid, &random)
            if let text = try? schema.json(fromBinary: bytes, messageType: "codec.v1.Kinds") {
                accepted += 1
                // Whatever decodes must survive the way back.
                XCTAssertNoThrow(try schema.binary(fromJSON: text, messageType: "codec.v1.Kinds"), "seed \(seed): \(text)")
            }
            let mutatedJSON = String(decoding: Self.mutate(Array(json.utf8), &random), as: UTF8.self)
            _ = try? schema.binary(fromJSON: mutatedJSON, messageType: "codec.v1.Kinds")
            let randomBytes = (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            _ = try? schema.json(fromBinary: randomBytes, messageType: "codec.v1.Legacy")
        }
        print("fuzz: \(Self.iterations * 5) mutated payloads, \(accepted) still decoded, none crashed")
        // Deep nesting is refused, not a stack overflow.
        let deep = String(repeating: "{\"fChild\":", count: 500)
        XCTAssertThrowsError(try schema.binary(fromJSON: deep + "{}" + String(repeating: "}", count: 500), messageType: "codec.v1.Kinds"))
        // google.protobuf.Value { list_value { values { list_value { … } } } }, 300 levels deep.
        var value: [UInt8] = []
        for _ in 0..<300 {
            let list = [0x0A] + varint(value.count) + value
            value = [0x32] + varint(list.count) + list
        }
        let kinds = [0xC2, 0x03] + varint(value.count) + value
        XCTAssertThrowsError(try schema.validate(binary: kinds, messageType: "codec.v1.Kinds")) { error in
            XCTAssertTrue("\(error)".contains("nested"), "\(error)")
        }
    }

    private func varint(_ value: Int) -> [UInt8] {
        var value = UInt64(value), bytes: [UInt8] = []
        while value >= 0x80 { bytes.append(UInt8(value & 0x7F) | 0x80); value >>= 7 }
        return bytes + [UInt8(value)]
    }
}
