import Foundation
import GanglionWire
import ProtoSchema
import SchemaRegistry
import SwiftProtobuf

/// Registry schemas compiled here, by id: what decodes a protobuf payload into fields (an agent's
/// payload-field filters) and encodes JSON as protobuf (`ganglion publish`). A schema is fetched
/// with its references and compiled once, then cached.
public actor RegistryCodecs {
    /// One compiled schema.
    public struct Compiled: Sendable {
        /// The registry id.
        public var id: Int32
        /// Encodes and decodes its messages.
        public var codec: SchemaSet
        /// The schema's own file (its messages, in order, for Confluent's message indexes).
        public var file: Google_Protobuf_FileDescriptorProto

        /// The full name of the message at Confluent's index path (`[0]`: the first message).
        public func messageType(at indexes: [Int]) -> String? {
            guard let first = indexes.first, first < file.messageType.count else { return nil }
            var message = file.messageType[first]
            var name = (file.package.isEmpty ? "" : file.package + ".") + message.name
            for index in indexes.dropFirst() {
                guard index < message.nestedType.count else { return nil }
                message = message.nestedType[index]
                name += "." + message.name
            }
            return name
        }
    }

    private let client: GanglionClient
    private var byID: [Int32: Compiled] = [:]
    /// Ids the registry does not know or that do not compile here, not asked again.
    private var failed: Set<Int32> = []

    /// Codecs fetched through `client`'s node.
    public init(client: GanglionClient) { self.client = client }

    /// The schema with registry id `id`, compiled.
    public func schema(id: Int32) async throws -> Compiled {
        if let cached = byID[id] { return cached }
        let answer = try await client.registry("GET", ["schemas", "ids", String(id)]) as? [String: Any] ?? [:]
        let compiled = try await Self.compile(answer, id: id, name: "registry/\(id).proto", client: client)
        byID[id] = compiled
        return compiled
    }

    /// An event's payload as proto3 JSON when it is protobuf of a registry schema — the envelope
    /// names the schema (`schema_id`, `message_name`) or the data carries Confluent's framing —
    /// nil otherwise, or when the registry does not know the schema or it does not compile (both
    /// remembered), or the bytes do not decode. Throws when the registry could not be asked (the
    /// caller retries later rather than judging the event without its fields).
    public func json(of event: EventEnvelope) async throws -> Data? {
        let data = Array(event.data)
        let id: Int32, bytes: [UInt8], indexes: [Int]
        if let framing = ConfluentFraming(parsing: data) {
            (id, bytes, indexes) = (framing.schemaID, Array(data[framing.payloadOffset...]), framing.messageIndexes)
        } else if event.schemaID > 0 {
            (id, bytes, indexes) = (Int32(bitPattern: event.schemaID), data, [0])
        } else {
            return nil
        }
        guard !failed.contains(id) else { return nil }
        let compiled: Compiled
        do {
            compiled = try await schema(id: id)
        } catch let refusal as RegistryCallError where (400..<500).contains(refusal.status) {
            failed.insert(id)
            return nil
        }
        let messageType = event.messageName.isEmpty || event.schemaID == 0 ? compiled.messageType(at: indexes) : event.messageName
        guard let messageType, let json = try? compiled.codec.json(fromBinary: bytes, messageType: messageType) else { return nil }
        return Data(json.utf8)
    }

    /// Compiles a registry answer (`schema`, `references`) under `name`, its references fetched.
    public static func compile(_ answer: [String: Any], id: Int32, name: String, client: GanglionClient) async throws -> Compiled {
        guard let text = answer["schema"] as? String else {
            throw RegistryCallError(status: 500, code: 50001, message: "the registry's answer for schema \(id) has no schema")
        }
        var sources = [name: text]
        try await addReferences(answer["references"] as? [[String: Any]] ?? [], to: &sources, client: client, depth: 0)
        let output: ProtoCompiler.Output
        do {
            output = try ProtoCompiler(sources: sources).compile([name])
        } catch {
            throw RegistryCallError(status: 422, code: 42201, message: "schema \(id) does not compile here: \(error)")
        }
        return Compiled(id: id, codec: SchemaSet(files: output.allFiles), file: output.requestedFiles[0])
    }

    private static func addReferences(_ references: [[String: Any]], to sources: inout [String: String], client: GanglionClient, depth: Int) async throws {
        guard depth < 16 else { return }
        for reference in references {
            guard let name = reference["name"] as? String, let subject = reference["subject"] as? String,
                  let version = reference["version"] as? Int, sources[name] == nil else { continue }
            let answer = try await client.registry("GET", ["subjects", subject, "versions", String(version)]) as? [String: Any] ?? [:]
            sources[name] = answer["schema"] as? String ?? ""
            try await addReferences(answer["references"] as? [[String: Any]] ?? [], to: &sources, client: client, depth: depth + 1)
        }
    }
}
