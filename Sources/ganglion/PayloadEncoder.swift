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
        guard let id = latest["id"] as? Int else {
            throw RegistryCallError(status: 500, code: 50001, message: "the registry's answer for \(subject) has no schema")
        }
        let compiled = try await RegistryCodecs.compile(latest, id: Int32(id), name: "ganglion-cli/\(subject).proto", client: client)
        guard let chosen = message ?? compiled.messageType(at: [0]) else {
            throw RegistryCallError(status: 422, code: 42201, message: "the latest schema of \(subject) declares no message")
        }
        codec = compiled.codec
        guard codec.contains(messageType: chosen) else {
            throw RegistryCallError(status: 422, code: 42201,
                                    message: "\(subject) has no message \(chosen); it has: \(codec.messageTypes.joined(separator: ", "))")
        }
        self.subject = subject
        schemaID = UInt32(id)
        messageType = chosen
    }

    /// The binary of `json` (a JSON object, as text) as the chosen message.
    func encode(json: String) throws -> [UInt8] {
        try codec.binary(fromJSON: json, messageType: messageType)
    }
}
