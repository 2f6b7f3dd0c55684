import Foundation
import SwiftProtobuf
import XCTest

/// Runs the real `protoc` (Debian's protobuf-compiler; test-time only) for differential tests.
enum Protoc {
    struct Result {
        var status: Int32
        var stderr: String
        var descriptorSet: Google_Protobuf_FileDescriptorSet?
    }

    static var path: String? {
        ["/usr/bin/protoc", "/usr/local/bin/protoc"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Compiles `files` with `-I` paths; the descriptor set when it succeeds, stderr when not.
    static func compile(_ files: [String], importPaths: [String], includeImports: Bool = true,
                        workingDirectory: String? = nil) throws -> Result {
        let protoc = try XCTUnwrap(path, "protoc is needed for differential tests (apt-get install protobuf-compiler)")
        let output = NSTemporaryDirectory() + "ganglion-protoc-\(UUID().uuidString).pb"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: protoc)
        process.arguments = importPaths.map { "-I\($0)" } + (includeImports ? ["--include_imports"] : [])
            + ["--descriptor_set_out=\(output)"] + files
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let deadline = Date(timeIntervalSinceNow: 30)
        while process.isRunning && Date() < deadline { usleep(2000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        var result = Result(status: process.terminationStatus, stderr: stderr)
        if process.terminationStatus == 0, let data = FileManager.default.contents(atPath: output) {
            result.descriptorSet = try Google_Protobuf_FileDescriptorSet(serializedBytes: data)
        }
        return result
    }

    /// The first error line protoc printed: (file, line).
    static func firstErrorLine(_ stderr: String) -> (String, Int)? {
        for line in stderr.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 3)
            if parts.count >= 3, let number = Int(parts[1]) { return (String(parts[0]), number) }
        }
        return nil
    }
}

/// A temporary directory of `.proto` files for one test.
struct ProtoWorkspace {
    let root: String

    init(_ files: [String: String]) throws {
        root = NSTemporaryDirectory() + "ganglion-protos-" + UUID().uuidString
        for (name, text) in files {
            let path = root + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}
