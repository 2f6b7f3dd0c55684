import ArgumentParser
import Foundation
import ProtoSchema

/// `ganglion schema compile`: protoc's `--descriptor_set_out`, in-process.
struct SchemaCompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile .proto files into a FileDescriptorSet, as protoc --descriptor_set_out does.",
        discussion: """
            Files are found as protoc finds them (-I, default: the current directory): a path on \
            disk under an import path is named relative to it (-I protos protos/foo/bar.proto, or \
            with an absolute -I), and a name that is no file on disk is looked up under the import \
            paths (-I protos foo/bar.proto). The google/protobuf well-known types need no import \
            path. Errors are printed as file:line:column: message and the exit status is 1.
            """
    )

    @Option(name: [.customShort("I"), .customLong("proto_path")], parsing: .unconditionalSingleValue,
            help: "A directory to search for imports (repeatable, searched in order).")
    var importPaths: [String] = []

    @Flag(name: .customLong("include_imports"), help: "Include every imported file in the set (dependencies first).")
    var includeImportsUnderscore = false

    @Flag(name: .customLong("include-imports"), help: .hidden)
    var includeImports = false

    @Option(name: [.customLong("descriptor_set_out"), .customLong("descriptor-set-out"), .customShort("o")],
            help: "Where to write the serialized FileDescriptorSet.")
    var descriptorSetOut: String

    @Argument(help: "The .proto files to compile.")
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("Missing input file.") }
    }

    func run() throws {
        let output: ProtoCompiler.Output
        do {
            output = try ProtoCompiler(importPaths: importPaths).compile(paths: files)
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
        let set = output.descriptorSet(includeImports: includeImports || includeImportsUnderscore)
        let bytes: [UInt8] = try set.serializedBytes()
        guard FileManager.default.createFile(atPath: descriptorSetOut, contents: Data(bytes)) else {
            FileHandle.standardError.write(Data("\(descriptorSetOut): cannot write the descriptor set\n".utf8))
            throw ExitCode(1)
        }
    }
}
