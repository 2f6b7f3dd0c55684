import Foundation
import Ganglion
import ProtoSchema

/// Encodes JSON payloads as protobuf with a topic's registry subject: the subject's latest
/// version (and what it references) is fetched once and compiled locally; each payload becomes
/// the binary of `messageType`, stamped with the schema id.
struct PayloadEncoder {
    let subject: String
    let schemaID: UInt32
    let messageType: String
    private let codec: SchemaSet

    /// The encoder of `subject`'s latest version; `message` picks a message (default: the first).
    init(client: GanglionClient, subject: String, message: String?) async throws {
        let latest = try await client.registry("GET", ["subjects", subject, "versions", "latest"]) as? [String: Any] ?? [:]
        guard let text = latest["schema"] as? String, let id = latest["id"] as? Int else {
            throw RegistryCallError(status: 500, code: 50001, message: "the registry's answer for \(subject) has no schema")
        }
        var sources = ["ganglion-cli/\(subject).proto": text]
        try await Self.addReferences(latest["references"] as? [[String: Any]] ?? [], to: &sources, client: client, depth: 0)
        let output: ProtoCompiler.Output
        do {
            output = try ProtoCompiler(sources: sources).compile(["ganglion-cli/\(subject).proto"])
        } catch {
            throw RegistryCallError(status: 422, code: 42201, message: "the latest schema of \(subject) does not compile here: \(error)")
        }
        let main = output.requestedFiles[0]
        let prefix = main.package.isEmpty ? "" : main.package + "."
        guard let chosen = message ?? main.messageType.first.map({ prefix + $0.name }) else {
            throw RegistryCallError(status: 422, code: 42201, message: "the latest schema of \(subject) declares no message")
        }
        codec = SchemaSet(files: output.allFiles)
        guard codec.contains(messageType: chosen) else {
            throw RegistryCallError(status: 422, code: 42201,
                                    message: "\(subject) has no message \(chosen); it has: \(codec.messageTypes.joined(separator: ", "))")
        }
        self.subject = subject
        schemaID = UInt32(id)
        messageType = chosen
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

    /// The binary of `json` (a JSON object, as text) as the chosen message.
    func encode(json: String) throws -> [UInt8] {
        try codec.binary(fromJSON: json, messageType: messageType)
    }
}
