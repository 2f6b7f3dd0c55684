import Foundation
import SwiftProtobuf
import XCTest
@testable import ProtoSchema

/// The in-process compiler against protoc: the same descriptor sets for valid files, and the
/// same verdict (and first error line) for invalid ones.
final class DifferentialTests: XCTestCase {
    /// Compares our output with protoc's for `files` under `importPaths`, per file.
    func assertSameAsProtoc(_ files: [String], importPaths: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try Protoc.compile(files.map { importPaths[0] + "/" + $0 }, importPaths: importPaths)
        let expected = try XCTUnwrap(reference.descriptorSet, "protoc failed: \(reference.stderr)", file: file, line: line)
        let ours: ProtoCompiler.Output
        do {
            ours = try ProtoCompiler(importPaths: importPaths).compile(files)
        } catch {
            XCTFail("we rejected what protoc accepts (\(files)): \(error)", file: file, line: line)
            return
        }
        let actual = ours.descriptorSet(includeImports: true)
        XCTAssertEqual(actual.file.map(\.name), expected.file.map(\.name), "file order", file: file, line: line)
        for expectedFile in expected.file {
            guard let actualFile = actual.file.first(where: { $0.name == expectedFile.name }) else { continue }
            if actualFile != expectedFile {
                XCTFail("\(expectedFile.name) differs from protoc:\n" + DescriptorDiff.describe(expected: expectedFile, actual: actualFile), file: file, line: line)
            }
        }
    }

    /// `Tests/ProtoSchemaTests/Corpus`, next to this file.
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus").path

    func testFeatureCorpusMatchesProtoc() throws {
        let root = Self.corpus + "/valid"
        for name in ["shop/options.proto", "shop/orders.proto", "shop/events.proto", "shop/scoping.proto"] {
            try assertSameAsProtoc([name], importPaths: [root])
        }
        try assertSameAsProtoc(["shop/events.proto", "shop/scoping.proto"], importPaths: [root])
    }

    /// Classes protoc 3.21 accepted on real-world files that we once did not match: proto3
    /// `optional` on extensions, and the expanded `[type.googleapis.com/pkg.Msg] { … }` form of an
    /// Any inside an aggregate option value.
    func testParityCorpusMatchesProtoc() throws {
        let root = Self.corpus + "/valid"
        try assertSameAsProtoc(["parity/optional_extensions.proto"], importPaths: [root])
        try assertSameAsProtoc(["parity/any_options.proto"], importPaths: [root])
    }

    func testGanglionsOwnProtocolMatchesProtoc() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("proto").path
        try assertSameAsProtoc(["ganglion/v1/event.proto", "ganglion/v1/protocol.proto"], importPaths: [root])
    }

    func testWellKnownTypesMatchProtoc() throws {
        let root = "/usr/include"
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/google/protobuf")
            .filter { $0.hasSuffix(".proto") }.sorted().map { "google/protobuf/" + $0 }
        XCTAssertFalse(names.isEmpty, "libprotobuf-dev's .proto files are the differential corpus")
        for name in names { try assertSameAsProtoc([name], importPaths: [root]) }
    }
}

/// A readable difference between two file descriptors (their text format, line by line).
enum DescriptorDiff {
    static func describe(expected: Google_Protobuf_FileDescriptorProto, actual: Google_Protobuf_FileDescriptorProto) -> String {
        let left = expected.textFormatString().split(separator: "\n", omittingEmptySubsequences: false)
        let right = actual.textFormatString().split(separator: "\n", omittingEmptySubsequences: false)
        var lines: [String] = []
        for index in 0..<max(left.count, right.count) {
            let l = index < left.count ? String(left[index]) : "∅"
            let r = index < right.count ? String(right[index]) : "∅"
            if l != r {
                lines.append("line \(index + 1): protoc: \(l)\n         ours:   \(r)")
                if lines.count >= 8 { break }
            }
        }
        return lines.joined(separator: "\n")
    }
}
