import Foundation
import GanglionWire

/// A refused registry operation: the REST status, Confluent's error code and its message.
public struct RegistryCallError: Error, Sendable, Hashable, CustomStringConvertible {
    /// HTTP status (404, 409, 422, …).
    public var status: Int
    /// Confluent's error code (40401, 409, 42201, …).
    public var code: Int
    /// The registry's message.
    public var message: String
    /// `message (error code)`.
    public var description: String { "\(message) (error \(code))" }

    /// An error as the registry would answer it.
    public init(status: Int, code: Int, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
}

extension GanglionClient {
    /// A schema registry operation over the node's request socket, as its REST API takes it:
    /// `registry("POST", ["subjects", "orders-value", "versions"], body: …)`. Returns the JSON
    /// answer; throws ``RegistryCallError`` for a refusal.
    public func registry(_ method: String, _ path: [String], query: [String: String] = [:], body: Any? = nil) async throws -> Any {
        var request = Ganglion_V1_RegistryRequest()
        request.method = method
        request.path = path
        request.query = query
        if let body { request.body = try JSONSerialization.data(withJSONObject: body) }
        let response = try await call(.registry, request, reply: Ganglion_V1_RegistryResponse.self).0
        let parsed = (try? JSONSerialization.jsonObject(with: response.body, options: [.fragmentsAllowed]))
            ?? String(decoding: response.body, as: UTF8.self)
        guard (200..<300).contains(response.status) else {
            let object = parsed as? [String: Any]
            throw RegistryCallError(status: Int(response.status), code: object?["error_code"] as? Int ?? Int(response.status),
                                    message: object?["message"] as? String ?? "\(parsed)")
        }
        return parsed
    }

    /// Registers `schema` (`.proto` text) under `subject`; returns (id, version).
    public func registerSchema(subject: String, schema: String, references: [[String: Any]] = []) async throws -> (id: Int, version: Int) {
        let answer = try await registry("POST", ["subjects", subject, "versions"],
                                        body: ["schemaType": "PROTOBUF", "schema": schema, "references": references])
        let object = answer as? [String: Any]
        return (object?["id"] as? Int ?? 0, object?["version"] as? Int ?? 0)
    }
}
