import Foundation
import XCTest

/// `ganglion schema compile` behaves as `protoc --descriptor_set_out` on the command line, and
/// `ganglion schema diff` answers like a CI gate (0 compatible, 1 incompatible, 2 bad input).
final class SchemaCommandTests: XCTestCase {
    /// The built `ganglion` executable, next to the test product.
    private func ganglion() throws -> URL {
        let bundle = Bundle(for: Self.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("ganglion") }
        return try XCTUnwrap(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                             "build the ganglion executable first (swift build --build-tests builds it)")
    }

    private func run(_ arguments: [String], in directory: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = try ganglion()
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    func testWritesTheSameBytesAsProtoc() throws {
        let corpus = DifferentialTests.corpus + "/valid"
        let workspace = try ProtoWorkspace([:])
        try FileManager.default.createDirectory(atPath: workspace.root, withIntermediateDirectories: true)
        defer { workspace.remove() }
        for includeImports in [true, false] {
            let ours = workspace.root + "/ours.pb", theirs = workspace.root + "/theirs.pb"
            let (status, stderr) = try run(["schema", "compile", "-I", corpus] + (includeImports ? ["--include-imports"] : [])
                                           + ["--descriptor-set-out", ours, corpus + "/shop/orders.proto", corpus + "/shop/events.proto"], in: workspace.root)
            XCTAssertEqual(status, 0, stderr)
            let reference = try Protoc.compile([corpus + "/shop/orders.proto", corpus + "/shop/events.proto"], importPaths: [corpus], includeImports: includeImports)
            try XCTUnwrap(reference.descriptorSet).serializedData().write(to: URL(fileURLWithPath: theirs))
            XCTAssertEqual(FileManager.default.contents(atPath: ours), FileManager.default.contents(atPath: theirs),
                           "include imports: \(includeImports)")
        }
    }

    func testErrorsGoToStderrWithLocationsAndExitNonZero() throws {
        let workspace = try ProtoWorkspace(["bad.proto": "syntax = \"proto3\";\nmessage A {\n  Missing m = 1;\n  int32 x = 1;\n}\n"])
        defer { workspace.remove() }
        let (status, stderr) = try run(["schema", "compile", "--descriptor-set-out", "out.pb", "bad.proto"], in: workspace.root)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(stderr.contains("bad.proto:3:3: \"Missing\" is not defined."), stderr)
        XCTAssertTrue(stderr.contains("bad.proto:4:13: Field number 1 has already been used"), stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.root + "/out.pb"))
    }

    /// Input files are found as protoc finds them: named relative to an import path, as a disk
    /// path under an import path, or relative to the working directory under an absolute `-I`.
    func testInputFilesResolveAgainstImportPathsAsProtocDoes() throws {
        let workspace = try ProtoWorkspace([
            "protos/foo/bar.proto": "syntax = \"proto3\";\npackage foo;\nimport \"foo/dep.proto\";\nmessage Bar {\n  Dep d = 1;\n}\n",
            "protos/foo/dep.proto": "syntax = \"proto3\";\npackage foo;\nmessage Dep {}\n",
            "first/foo/dep.proto": "syntax = \"proto3\";\npackage foo;\nmessage Dep {}\n",
        ])
        defer { workspace.remove() }
        let reference = try Protoc.compile(["foo/bar.proto"], importPaths: ["protos"], workingDirectory: workspace.root)
        let expected = try XCTUnwrap(reference.descriptorSet, reference.stderr).serializedData()
        let calls: [(String, [String])] = [
            ("a file named relative to an import path", ["-I", "protos", "foo/bar.proto"]),
            ("a file relative to the working directory, absolute -I", ["-I", workspace.root + "/protos", "protos/foo/bar.proto"]),
            ("a disk path under an -I prefix", ["-I", "protos", "protos/foo/bar.proto"]),
            ("an absolute disk path, relative -I", ["-I", "./protos/", workspace.root + "/protos//foo/bar.proto"]),
        ]
        for (what, arguments) in calls {
            let out = workspace.root + "/out.pb"
            try? FileManager.default.removeItem(atPath: out)
            let (status, stderr) = try run(["schema", "compile", "--include_imports", "-o", out] + arguments, in: workspace.root)
            XCTAssertEqual(status, 0, "\(what): \(stderr)")
            XCTAssertEqual(FileManager.default.contents(atPath: out), expected, "\(what): not the bytes protoc writes for foo/bar.proto")
        }
        let (missing, missingError) = try run(["schema", "compile", "-o", "out.pb", "-I", "protos", "foo/nope.proto"], in: workspace.root)
        XCTAssertEqual(missing, 1)
        XCTAssertTrue(missingError.contains("foo/nope.proto:1:1: File not found"), missingError)
        let (outside, outsideError) = try run(["schema", "compile", "-o", "out.pb", "-I", "protos", "first/foo/dep.proto"], in: workspace.root)
        XCTAssertEqual(outside, 1)
        XCTAssertTrue(outsideError.contains("does not reside within any path specified using --proto_path"), outsideError)
        // protoc refuses an input an earlier import path shadows: another file would be compiled under its name.
        let (shadowed, shadowError) = try run(["schema", "compile", "-o", "out.pb", "-I", "first", "-I", "protos", "protos/foo/dep.proto"], in: workspace.root)
        XCTAssertEqual(shadowed, 1)
        XCTAssertTrue(shadowError.contains("Input is shadowed in the --proto_path by \"first/foo/dep.proto\""), shadowError)
    }

    func testDiffExitCodesGateCI() throws {
        let workspace = try ProtoWorkspace([
            "v1/order.proto": "syntax = \"proto3\";\npackage shop.v1;\nmessage Order {\n  string id = 1;\n  int32 amount = 2;\n}\n",
            "v2/order.proto": "syntax = \"proto3\";\npackage shop.v1;\nmessage Order {\n  string id = 1;\n  int32 amount = 2;\n  string note = 3;\n}\n",
            "v3/order.proto": "syntax = \"proto3\";\npackage shop.v1;\nmessage Order {\n  string id = 1;\n  string amount = 2;\n}\n",
        ])
        defer { workspace.remove() }
        XCTAssertEqual(try run(["schema", "diff", "--level", "BACKWARD", "v1/order.proto", "v2/order.proto"], in: workspace.root).0, 0)
        let (incompatible, _) = try run(["schema", "diff", "--level", "BACKWARD", "v1/order.proto", "v3/order.proto"], in: workspace.root)
        XCTAssertEqual(incompatible, 1)
        XCTAssertEqual(try run(["schema", "diff", "--level", "NONE", "v1/order.proto", "v3/order.proto"], in: workspace.root).0, 0)
        let (transitive, _) = try run(["schema", "diff", "--level", "BACKWARD_TRANSITIVE", "v2/order.proto", "v3/order.proto",
                                       "--history", "v1/order.proto"], in: workspace.root)
        XCTAssertEqual(transitive, 1)
        XCTAssertEqual(try run(["schema", "diff", "--level", "SIDEWAYS", "v1/order.proto", "v2/order.proto"], in: workspace.root).0, 2)
        XCTAssertEqual(try run(["schema", "diff", "--level", "BACKWARD", "--bogus", "v1/order.proto", "v2/order.proto"], in: workspace.root).0, 2)
        let (missing, stderr) = try run(["schema", "diff", "--level", "BACKWARD", "v1/order.proto", "nope.proto"], in: workspace.root)
        XCTAssertEqual(missing, 2)
        XCTAssertTrue(stderr.contains("nope.proto"), stderr)
    }
}
