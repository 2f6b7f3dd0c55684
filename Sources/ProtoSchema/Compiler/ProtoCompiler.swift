import Foundation
import SwiftProtobuf

/// Compiles `.proto` files in-process into the descriptors `protoc --descriptor_set_out`
/// writes (without source info), with protoc's name resolution and validation. The
/// google/protobuf well-known types are bundled: importing them needs no include path.
public struct ProtoCompiler: Sendable {
    /// Where imports are looked up, in order (protoc's `-I`); on disk.
    public var importPaths: [String]
    /// Files given as text (e.g. a registry's schema and its references), by import name; they
    /// take precedence over the import paths.
    public var sources: [String: String]
    /// How large and how deeply nested the input may be.
    public var limits: Limits

    /// A compiler reading from `importPaths` and the in-memory `sources`, within `limits`.
    public init(importPaths: [String] = [], sources: [String: String] = [:], limits: Limits = .standard) {
        self.importPaths = importPaths
        self.sources = sources
        self.limits = limits
    }

    /// The result of a compilation.
    public struct Output: Sendable {
        /// Every file compiled, dependencies before dependents (protoc's `--include_imports` order).
        public var allFiles: [Google_Protobuf_FileDescriptorProto]
        /// The files asked for, in the order asked.
        public var requestedFiles: [Google_Protobuf_FileDescriptorProto]

        /// The descriptor set protoc would write, with or without `--include_imports`.
        public func descriptorSet(includeImports: Bool) -> Google_Protobuf_FileDescriptorSet {
            var set = Google_Protobuf_FileDescriptorSet()
            set.file = includeImports ? allFiles : requestedFiles
            return set
        }
    }

    /// Compiles files named as import names (relative to an import path or in `sources`).
    public func compile(_ names: [String]) throws(CompileErrors) -> Output {
        var loader = Loader(compiler: self)
        var order: [String] = []
        var errors: [CompileError] = []
        for name in names {
            do {
                try loader.load(name, chain: [], order: &order)
            } catch {
                errors.append(error)
            }
        }
        errors += loader.errors
        if !errors.isEmpty { throw CompileErrors(errors) }
        // descriptor.proto defines the options every file's options are interpreted against.
        let descriptorProto = "google/protobuf/descriptor.proto"
        if loader.parsed[descriptorProto] == nil {
            var ignored: [String] = []
            do { try loader.load(descriptorProto, chain: [], order: &ignored) } catch { throw CompileErrors([error]) }
        }
        var linker = Linker()
        var parsed = order.compactMap { loader.parsed[$0] }
        let extra = loader.parsed[descriptorProto].flatMap { order.contains(descriptorProto) ? nil : $0 }
        if let extra { parsed.insert(extra, at: 0) }
        let linked = linker.link(parsed)
        if !linker.errors.isEmpty { throw CompileErrors(linker.errors) }
        let byName = Dictionary(uniqueKeysWithValues: linked.map { ($0.name, $0) })
        var all: [Google_Protobuf_FileDescriptorProto] = []
        var seen: Set<String> = []
        func visit(_ name: String) {
            guard seen.insert(name).inserted, let file = byName[name] else { return }
            for dependency in file.dependency { visit(dependency) }
            all.append(file)
        }
        for name in names { visit(name) }
        return Output(allFiles: all, requestedFiles: names.compactMap { byName[$0] })
    }

    /// The text of the file imported as `name`: in-memory sources, then import paths, then the
    /// bundled well-known types; a file larger than `limits.maxFileBytes` is refused unread.
    func read(_ name: String) throws(CompileError) -> String? {
        func tooLarge(_ bytes: Int) -> CompileError {
            CompileError(SourceLocation(file: name, line: 1, column: 1),
                         "File is \(bytes) bytes, larger than the limit of \(limits.maxFileBytes) bytes; split it into smaller files.")
        }
        if let text = sources[name] {
            guard text.utf8.count <= limits.maxFileBytes else { throw tooLarge(text.utf8.count) }
            return text
        }
        for root in importPaths {
            let path = Self.diskPath(root: root, name)
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType != .typeDirectory else { continue }
            if let size = attributes[.size] as? Int, size > limits.maxFileBytes { throw tooLarge(size) }
            if let data = FileManager.default.contents(atPath: path) {
                guard data.count <= limits.maxFileBytes else { throw tooLarge(data.count) }
                return String(decoding: data, as: UTF8.self)
            }
        }
        return WellKnownProtos.files[name]
    }
}

/// Reads and parses a file and everything it imports, depth first, detecting cycles.
struct Loader {
    let compiler: ProtoCompiler
    var parsed: [String: ParsedFile] = [:]
    var failed: Set<String> = []
    var errors: [CompileError] = []

    init(compiler: ProtoCompiler) { self.compiler = compiler }

    mutating func load(_ name: String, chain: [String], order: inout [String]) throws(CompileError) {
        if parsed[name] != nil || failed.contains(name) { return }
        if let start = chain.firstIndex(of: name) {
            throw CompileError(SourceLocation(file: chain.last!, line: 1, column: 1),
                               "File recursively imports itself: \((chain[start...] + [name]).joined(separator: " -> "))")
        }
        let limits = compiler.limits
        guard chain.count < limits.maxImportDepth else {
            failed.insert(name)
            throw CompileError(SourceLocation(file: chain.last ?? name, line: 1, column: 1),
                               "Import \"\(name)\": imports nest more than \(limits.maxImportDepth) files deep (the import depth limit), starting at \(chain.first ?? name).")
        }
        guard parsed.count + failed.count < limits.maxFiles else {
            failed.insert(name)
            throw CompileError(SourceLocation(file: chain.last ?? name, line: 1, column: 1),
                               "Import \"\(name)\": the compilation loads more than \(limits.maxFiles) files (the file count limit).")
        }
        guard let text = try compiler.read(name) else {
            throw CompileError(SourceLocation(file: chain.last ?? name, line: 1, column: 1), chain.isEmpty ? "\(name): File not found." : "Import \"\(name)\" was not found or had errors.")
        }
        var parser = try Parser(source: text, fileName: name, maxNestingDepth: limits.maxNestingDepth)
        let proto: Google_Protobuf_FileDescriptorProto
        do {
            proto = try parser.parseFile()
        } catch {
            failed.insert(name)
            throw error
        }
        for dependency in proto.dependency {
            do {
                try load(dependency, chain: chain + [name], order: &order)
            } catch {
                let at = parser.locations.imports[dependency] ?? SourceLocation(file: name, line: 1, column: 1)
                errors.append(error.location.file == name ? CompileError(at, error.message) : error)
                if !error.message.hasPrefix("Import") {
                    errors.append(CompileError(at, "Import \"\(dependency)\" was not found or had errors."))
                }
            }
        }
        parsed[name] = ParsedFile(proto: proto, locations: parser.locations)
        order.append(name)
    }
}
