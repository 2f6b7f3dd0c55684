import Foundation
import ProtoSchema
import SwiftProtobuf
import XCTest

/// Compiles small `.proto` texts with the installed protoc into schema versions, in a fresh temporary directory.
/// protoc missing, failing or hanging is a test failure, never a skip.
enum ProtocFixture {
    /// Why a compilation did not produce a descriptor set.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// How long one protoc run may take.
    static let timeout: TimeInterval = 30

    /// The version whose main file `main` holds `source`; `imports` are further files by name.
    static func version(_ source: String, main: String = "test.proto",
                        imports: [String: String] = [:]) throws -> ProtoSchemaVersion {
        let set = try descriptorSet(files: imports.merging([main: source]) { _, mine in mine }, main: main)
        return try ProtoSchemaVersion(descriptorSet: set)
    }

    /// The descriptor set protoc writes for `main` with `--include_imports`.
    static func descriptorSet(files: [String: String], main: String) throws -> Google_Protobuf_FileDescriptorSet {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ganglion-compat-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, text) in files {
            let url = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        let output = directory.appendingPathComponent("out.binpb")
        try run(["-I", directory.path, "--descriptor_set_out=\(output.path)", "--include_imports",
                 directory.appendingPathComponent(main).path], in: directory)
        return try Google_Protobuf_FileDescriptorSet(serializedBytes: Data(contentsOf: output))
    }

    /// Runs protoc with `arguments`, failing on a missing binary, a non-zero exit or the timeout.
    static func run(_ arguments: [String], in directory: URL) throws {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        let errors = directory.appendingPathComponent("protoc.stderr")
        guard FileManager.default.createFile(atPath: errors.path, contents: nil) else {
            throw Failure(description: "cannot create \(errors.path)")
        }
        process.standardError = try FileHandle(forWritingTo: errors)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw Failure(description: "protoc did not finish within \(Int(timeout)) s")
        }
        guard process.terminationStatus == 0 else {
            let message = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw Failure(description: "protoc exited with \(process.terminationStatus): \(message)")
        }
    }

    /// protoc from PATH.
    static func executable() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("protoc")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw Failure(description: "protoc is not on PATH; these tests need it (apt-get install protobuf-compiler)")
    }
}

/// Shorthands for compatibility tests written as pairs or histories of `.proto` texts.
protocol CompatibilityTesting {}

extension CompatibilityTesting {
    /// The report of checking `new` against the history `old…` at `level`.
    func check(_ history: [String], _ new: String, level: CompatibilityLevel, strict: Bool = false,
               imports: [String: String] = [:]) throws -> CompatibilityReport {
        let versions = try history.map { try ProtocFixture.version($0, imports: imports) }
        return CompatibilityChecker().check(try ProtocFixture.version(new, imports: imports), against: versions,
                                            level: level, strict: strict)
    }

    /// The report of checking `new` against the single earlier version `old` at `level`.
    func check(_ old: String, _ new: String, level: CompatibilityLevel, strict: Bool = false) throws
        -> CompatibilityReport {
        try check([old], new, level: level, strict: strict)
    }

    /// `RULE location` for every difference from `old` to `new` (the shape of Confluent's diff test examples).
    func differences(_ old: String, _ new: String, oldImports: [String: String] = [:],
                     newImports: [String: String] = [:]) throws -> [String] {
        CompatibilityChecker().differences(from: try ProtocFixture.version(old, imports: oldImports),
                                           to: try ProtocFixture.version(new, imports: newImports))
            .map { "\($0.rule.rawValue) \($0.location)" }
    }

    /// The rules of the report's violations, in order.
    func violatedRules(_ report: CompatibilityReport) -> [String] {
        report.violations.map(\.rule.rawValue)
    }
}

/// `syntax = "proto3"; package shop;` followed by `body`.
func proto3(_ body: String) -> String {
    "syntax = \"proto3\";\npackage shop;\n\(body)\n"
}

/// `syntax = "proto2"; package shop;` followed by `body`.
func proto2(_ body: String) -> String {
    "syntax = \"proto2\";\npackage shop;\n\(body)\n"
}
