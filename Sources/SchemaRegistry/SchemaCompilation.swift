import Foundation
import ProtoSchema
import SwiftProtobuf

/// What a registration or check carries: the schema (`.proto` text, or base64 of a serialized
/// FileDescriptorProto as Confluent's protobuf serializer sends), its type and references.
public struct SchemaSubmission: Sendable, Hashable {
    /// The schema text.
    public var schema: String
    /// `PROTOBUF`; nil means Confluent's default, AVRO, which this registry refuses.
    public var schemaType: String?
    /// Imports resolved to other subjects' versions.
    public var references: [SchemaReference]
    /// With IMPORT mode: the id to register under.
    public var id: Int32?
    /// With IMPORT mode: the version to register as.
    public var version: Int32?

    /// A submission.
    public init(schema: String, schemaType: String? = "PROTOBUF", references: [SchemaReference] = [], id: Int32? = nil, version: Int32? = nil) {
        self.schema = schema
        self.schemaType = schemaType
        self.references = references
        self.id = id
        self.version = version
    }
}

/// A schema compiled: the version the compatibility rules and the codec use, and its identity.
public struct CompiledSchema: Sendable {
    /// The main file and its imports.
    public var version: ProtoSchemaVersion
    /// See ``RegisteredSchema/fingerprint``.
    public var fingerprint: String
    /// The main file's descriptor (Confluent's `format=serialized`).
    public var mainFile: Google_Protobuf_FileDescriptorProto
    /// Encodes and decodes the schema's messages.
    public var codec: SchemaSet
    /// Message full names by Confluent message-index path (`[0]`, `[1, 0]`, …).
    public func messageName(at indexes: [Int]) -> String? {
        guard let first = indexes.first, first >= 0, first < mainFile.messageType.count else { return nil }
        var message = mainFile.messageType[first]
        var name = (mainFile.package.isEmpty ? "" : mainFile.package + ".") + message.name
        for index in indexes.dropFirst() {
            guard index >= 0, index < message.nestedType.count else { return nil }
            message = message.nestedType[index]
            name += "." + message.name
        }
        return name
    }
}

/// Compiles submissions against a registry state (references resolve to stored schemas), and
/// keeps stored schemas compiled by id (an id's content never changes).
public final class SchemaCompilation: @unchecked Sendable {
    // `byID` is guarded by `lock`.
    private let lock = NSLock()
    private var byID: [Int32: CompiledSchema] = [:]
    /// The largest schema text accepted.
    public let maxSchemaBytes: Int
    static let mainFileName = "ganglion-registry/schema.proto"

    /// A compiler for schemas of at most `maxSchemaBytes`.
    public init(maxSchemaBytes: Int = 1 << 20) { self.maxSchemaBytes = maxSchemaBytes }

    /// The stored schema `id` if it is compiled already; never compiles.
    public func cached(id: Int32) -> CompiledSchema? { lock.withLock { byID[id] } }

    /// Keeps `compiled` as stored schema `id`'s compilation, unless one is kept already (an id's
    /// content never changes; a schema registered again has the same fingerprint).
    func remember(_ compiled: CompiledSchema, id: Int32) {
        lock.withLock { if byID[id] == nil { byID[id] = compiled } }
    }

    /// The stored schema `id`, compiled (cached).
    public func compiled(id: Int32, in state: RegistryState) throws(RegistryError) -> CompiledSchema {
        if let cached = lock.withLock({ byID[id] }) { return cached }
        guard let stored = state.schemas[id] else { throw .schemaNotFound(id) }
        let compiled = try compile(SchemaSubmission(schema: stored.schema, references: stored.references), in: state)
        lock.withLock { byID[id] = compiled }
        return compiled
    }

    /// Compiles a submission; a schema that does not compile is a 42201 naming line and column.
    public func compile(_ submission: SchemaSubmission, in state: RegistryState) throws(RegistryError) -> CompiledSchema {
        let type = submission.schemaType?.uppercased() ?? "AVRO"
        guard type == "PROTOBUF" else {
            throw RegistryError(42201, "Invalid schema type \(type)\(submission.schemaType == nil ? " (the default when schemaType is absent)" : ""); this registry holds PROTOBUF schemas: send \"schemaType\": \"PROTOBUF\"")
        }
        guard !submission.schema.isEmpty else { throw RegistryError(42201, "Empty schema") }
        guard submission.schema.utf8.count <= maxSchemaBytes else { throw .tooLarge(submission.schema.utf8.count, limit: maxSchemaBytes) }
        var sources: [String: String] = [:]
        try collect(submission.references, into: &sources, in: state, depth: 0)
        let files: [Google_Protobuf_FileDescriptorProto]
        if let descriptor = Self.serializedDescriptor(submission.schema) {
            files = try Self.compileDependencies(of: descriptor, sources: sources) + [Self.named(descriptor)]
        } else {
            sources[Self.mainFileName] = submission.schema
            do {
                files = try ProtoCompiler(sources: sources).compile([Self.mainFileName]).allFiles
            } catch {
                let detail = error.errors.map { ($0.location.file == Self.mainFileName ? "line " : $0.location.file + ":") + "\($0.location.line):\($0.location.column): \($0.message)" }
                throw .invalidSchema(detail.joined(separator: "; "))
            }
        }
        var set = Google_Protobuf_FileDescriptorSet()
        set.file = files
        let version: ProtoSchemaVersion
        do {
            version = try ProtoSchemaVersion(descriptorSet: set, mainFileName: Self.mainFileName)
        } catch {
            throw .invalidSchema(error.message)
        }
        let main = files.last!
        var identity = main
        identity.name = ""
        identity.clearSourceCodeInfo()
        let bytes: [UInt8] = (try? identity.serializedBytes()) ?? []
        let references = submission.references.map { "\($0.name)=\($0.subject):\($0.version)" }.joined(separator: ",")
        return CompiledSchema(version: version, fingerprint: Data(bytes).base64EncodedString() + "|" + references,
                              mainFile: main, codec: SchemaSet(files: files))
    }

    /// Adds the text of every referenced schema (and what those reference) by import name.
    private func collect(_ references: [SchemaReference], into sources: inout [String: String], in state: RegistryState, depth: Int) throws(RegistryError) {
        guard depth < 32 else { throw .invalidSchema("references nest deeper than 32 levels (a cycle?)") }
        for reference in references {
            guard let entry = state.subjects[reference.subject]?.versions.first(where: { $0.version == reference.version }),
                  let schema = state.schemas[entry.id] else {
                throw .invalidSchema("reference \(reference.name) names subject '\(reference.subject)' version \(reference.version), which does not exist")
            }
            guard sources[reference.name] == nil else { continue }
            sources[reference.name] = schema.schema
            try collect(schema.references, into: &sources, in: state, depth: depth + 1)
        }
    }

    /// A base64 FileDescriptorProto, as Confluent's serializers send schemas; nil for `.proto` text.
    static func serializedDescriptor(_ text: String) -> Google_Protobuf_FileDescriptorProto? {
        guard !text.contains(";"), !text.contains("{"), let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let descriptor = try? Google_Protobuf_FileDescriptorProto(serializedBytes: data),
              !descriptor.messageType.isEmpty || !descriptor.enumType.isEmpty else { return nil }
        return descriptor
    }

    private static func named(_ descriptor: Google_Protobuf_FileDescriptorProto) -> Google_Protobuf_FileDescriptorProto {
        var renamed = descriptor
        renamed.name = mainFileName
        return renamed
    }

    /// The imports of a descriptor given in binary, compiled from the references' text (and the
    /// bundled well-known types).
    private static func compileDependencies(of descriptor: Google_Protobuf_FileDescriptorProto, sources: [String: String]) throws(RegistryError) -> [Google_Protobuf_FileDescriptorProto] {
        guard !descriptor.dependency.isEmpty else { return [] }
        do {
            return try ProtoCompiler(sources: sources).compile(descriptor.dependency).allFiles
        } catch {
            throw .invalidSchema("the descriptor's imports do not resolve: \(error.errors.map(\.description).joined(separator: "; "))")
        }
    }
}
