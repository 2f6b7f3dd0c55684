import Foundation
import XCTest
@testable import ProtoSchema

/// Schemas written to hurt the compiler: nesting far past any real file, and inputs past the
/// size limits, are refused with an error naming the limit — never a stack overflow or a hang.
final class HostileSchemaTests: XCTestCase {
    private static let depth = 100_000

    /// `message M0 { message M1 { … } }`, `levels` deep.
    private static func nestedMessages(_ levels: Int) -> String {
        var text = "syntax = \"proto3\";\n"
        text.reserveCapacity(levels * 20)
        for level in 0..<levels { text += "message M\(level) {\n" }
        text += "int32 x = 1;\n"
        text += String(repeating: "}\n", count: levels)
        return text
    }

    private func assertRefused(_ sources: [String: String], _ name: String, mentioning expected: String,
                               file: StaticString = #filePath, line: UInt = #line) -> TimeInterval {
        let started = Date()
        do {
            _ = try ProtoCompiler(sources: sources).compile([name])
            XCTFail("compiled a hostile schema", file: file, line: line)
        } catch {
            XCTAssertTrue(error.description.contains(expected), "\(error.description.prefix(400))", file: file, line: line)
        }
        return Date().timeIntervalSince(started)
    }

    func testMessagesNestedAHundredThousandDeepAreRefusedAtTheDepthLimit() {
        let elapsed = assertRefused(["deep.proto": Self.nestedMessages(Self.depth)], "deep.proto",
                                    mentioning: "nested more than \(ProtoCompiler.Limits.standard.maxNestingDepth) levels")
        print("hostile: \(Self.depth) nested messages refused in \(String(format: "%.3f", elapsed)) s")
        XCTAssertLessThan(elapsed, 10)
    }

    func testMessagesNestedToTheLimitStillCompile() throws {
        let levels = ProtoCompiler.Limits.standard.maxNestingDepth
        let output = try ProtoCompiler(sources: ["ok.proto": Self.nestedMessages(levels)]).compile(["ok.proto"])
        XCTAssertEqual(output.requestedFiles.first?.messageType.first?.name, "M0")
        _ = assertRefused(["deep.proto": Self.nestedMessages(levels + 1)], "deep.proto", mentioning: "M\(levels)")
    }

    func testGroupsNestedDeepAreRefusedAtTheDepthLimit() {
        var text = "syntax = \"proto2\";\nmessage Root {\n"
        for level in 0..<Self.depth { text += "optional group G\(level) = 1 {\n" }
        text += String(repeating: "}\n", count: Self.depth) + "}\n"
        _ = assertRefused(["groups.proto": text], "groups.proto", mentioning: "nested more than")
    }

    func testAggregateOptionValuesNestedDeepAreRefusedAtTheDepthLimit() {
        let prefix = """
            syntax = "proto3";
            import "google/protobuf/descriptor.proto";
            message Node { Node child = 1; int32 n = 2; }
            extend google.protobuf.MessageOptions { Node node = 50001; }
            message Tagged {
              option (node) = {
            """
        let text = prefix + String(repeating: " child {", count: Self.depth) + " n: 1" + String(repeating: " }", count: Self.depth) + " };\n}\n"
        let started = Date()
        _ = assertRefused(["aggregate.proto": text], "aggregate.proto", mentioning: "nested more than")
        print("hostile: option value \(Self.depth) deep refused in \(String(format: "%.3f", Date().timeIntervalSince(started))) s")
    }

    func testImportChainsDeeperThanTheLimitAreRefused() {
        var sources: [String: String] = [:]
        let files = 5_000
        for index in 0..<files {
            let next = index + 1 < files ? "import \"f\(index + 1).proto\";\n" : ""
            sources["f\(index).proto"] = "syntax = \"proto3\";\n\(next)message F\(index) {}\n"
        }
        _ = assertRefused(sources, "f0.proto", mentioning: "imports nest more than")
    }

    func testFilesLargerThanTheLimitAreRefusedBeforeParsing() {
        var limits = ProtoCompiler.Limits.standard
        limits.maxFileBytes = 64 * 1024
        let text = "syntax = \"proto3\";\n" + String(repeating: "message Filler {}\n// padding\n", count: 4000)
        do {
            _ = try ProtoCompiler(sources: ["big.proto": text], limits: limits).compile(["big.proto"])
            XCTFail("compiled a file over the size limit")
        } catch {
            XCTAssertTrue(error.description.contains("big.proto"), error.description)
            XCTAssertTrue(error.description.contains("larger than the limit of 65536 bytes"), error.description)
        }
    }

    func testTooManyFilesAreRefused() {
        var limits = ProtoCompiler.Limits.standard
        limits.maxFiles = 10
        var sources: [String: String] = [:]
        var imports = ""
        for index in 0..<20 {
            sources["f\(index).proto"] = "syntax = \"proto3\";\nmessage F\(index) {}\n"
            imports += "import \"f\(index).proto\";\n"
        }
        sources["main.proto"] = "syntax = \"proto3\";\n" + imports
        do {
            _ = try ProtoCompiler(sources: sources, limits: limits).compile(["main.proto"])
            XCTFail("compiled more files than the limit")
        } catch {
            XCTAssertTrue(error.description.contains("more than 10 files"), error.description)
        }
    }

    func testJSONNestedAHundredThousandDeepIsRefusedByTheCodec() throws {
        let output = try ProtoCompiler(importPaths: [CodecTests.root]).compile(["kinds.proto"])
        let schema = SchemaSet(files: output.allFiles)
        let arrays = "{\"wValue\":" + String(repeating: "[", count: Self.depth) + String(repeating: "]", count: Self.depth) + "}"
        XCTAssertThrowsError(try schema.binary(fromJSON: arrays, messageType: "codec.v1.Kinds")) { error in
            XCTAssertTrue("\(error)".contains("nested more than"), "\(error)")
        }
        let objects = String(repeating: "{\"fChild\":", count: Self.depth) + "{}" + String(repeating: "}", count: Self.depth)
        XCTAssertThrowsError(try schema.binary(fromJSON: objects, messageType: "codec.v1.Kinds")) { error in
            XCTAssertTrue("\(error)".contains("nested more than"), "\(error)")
        }
    }
}
