import Foundation

/// Reads the webhooks file (`ganglion node --webhooks FILE`, `GANGLION_WEBHOOKS`): a JSON object
/// from webhook name to its settings —
///
/// ```json
/// {"github": {"topic": "ci.pushes", "scheme": "github", "secretEnv": "GITHUB_WEBHOOK_SECRET", "key": "/after"},
///  "billing": {"topic": "payments", "scheme": "stripe", "secretFile": "/run/secrets/stripe"}}
/// ```
///
/// Keys: `topic`, `scheme` (github, stripe, slack, hmac), exactly one of `secretFile` (its text,
/// without a trailing newline) and `secretEnv` (an environment variable's name), and optionally
/// `toleranceSeconds`, `key`, `source`, `type`, `dedupeCapacity`, `dedupeWindowSeconds`, and for
/// `hmac` `signatureHeader`, `encoding` (hex, base64), `signaturePrefix`, `idHeader`, `eventHeader`.
/// Unknown keys are refused (a misspelt key would otherwise be ignored silently).
public enum WebhookConfiguration {
    /// Keys a webhook's settings may have.
    static let keys: Set<String> = ["topic", "scheme", "secretFile", "secretEnv", "toleranceSeconds", "key", "source", "type",
                                    "dedupeCapacity", "dedupeWindowSeconds", "signatureHeader", "encoding", "signaturePrefix",
                                    "idHeader", "eventHeader"]

    /// A webhooks file that cannot be used, naming the webhook and the key at fault.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        /// What is wrong and where.
        public var message: String
        /// The message.
        public var description: String { message }
    }

    /// The webhooks of a JSON document; secrets are read now (files, `environment`), so a missing
    /// one stops the node at start rather than failing every delivery.
    public static func parse(_ json: Data, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String: WebhookEndpoint] {
        guard let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw Invalid(message: "the webhooks configuration must be a JSON object from webhook name to its settings")
        }
        var endpoints: [String: WebhookEndpoint] = [:]
        for (name, value) in root {
            guard !name.isEmpty, name.utf8.count <= 128, name.utf8.allSatisfy(isNameByte) else {
                throw Invalid(message: "webhook name \"\(name)\" must be letters, digits, '-', '_' or '.' (it is a URL path segment)")
            }
            guard let settings = value as? [String: Any] else { throw Invalid(message: "webhook \(name): its settings must be a JSON object") }
            endpoints[name] = try endpoint(name, settings, environment: environment)
        }
        return endpoints
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || "-_.".utf8.contains(byte)
    }

    private static func endpoint(_ name: String, _ settings: [String: Any], environment: [String: String]) throws -> WebhookEndpoint {
        if let unknown = Set(settings.keys).subtracting(keys).sorted().first {
            throw Invalid(message: "webhook \(name): unknown key \"\(unknown)\"; known keys are \(keys.sorted().joined(separator: ", "))")
        }
        func string(_ key: String) throws -> String? {
            guard let value = settings[key] else { return nil }
            guard let text = value as? String, !text.isEmpty else { throw Invalid(message: "webhook \(name): \(key) must be a non-empty string") }
            return text
        }
        func positive(_ key: String) throws -> Int? {
            guard let value = settings[key] else { return nil }
            guard let number = value as? Int, number > 0 else { throw Invalid(message: "webhook \(name): \(key) must be a positive whole number") }
            return number
        }
        guard let topic = try string("topic") else { throw Invalid(message: "webhook \(name): no topic (the topic its events are stored on)") }
        guard let schemeName = try string("scheme"), let scheme = WebhookEndpoint.Scheme(rawValue: schemeName) else {
            throw Invalid(message: "webhook \(name): scheme must be one of \(WebhookEndpoint.Scheme.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var endpoint = WebhookEndpoint(name: name, topic: topic, scheme: scheme, secret: try secret(name, file: try string("secretFile"),
                                                                                                       variable: try string("secretEnv"), environment: environment))
        if let seconds = try positive("toleranceSeconds") { endpoint.toleranceSeconds = seconds }
        if let capacity = try positive("dedupeCapacity") { endpoint.dedupeCapacity = min(capacity, 1_000_000) }
        if let seconds = try positive("dedupeWindowSeconds") { endpoint.dedupeWindowSeconds = seconds }
        if let pointer = try string("key") {
            guard pointer.hasPrefix("/") else { throw Invalid(message: "webhook \(name): key must be a JSON Pointer such as /after, not \(pointer)") }
            endpoint.keyPointer = pointer
        }
        if let source = try string("source") { endpoint.source = source }
        endpoint.type = try string("type")
        let hmacOnly = ["signatureHeader", "encoding", "signaturePrefix", "idHeader", "eventHeader"]
        if scheme != .hmac, let key = hmacOnly.first(where: { settings[$0] != nil }) {
            throw Invalid(message: "webhook \(name): \(key) applies to the hmac scheme only; \(scheme.rawValue) fixes its own headers")
        }
        if let header = try string("signatureHeader") { endpoint.signatureHeader = header }
        if let encoding = try string("encoding") {
            guard let known = WebhookEndpoint.SignatureEncoding(rawValue: encoding) else { throw Invalid(message: "webhook \(name): encoding must be hex or base64") }
            endpoint.encoding = known
        }
        if settings["signaturePrefix"] != nil {
            guard let prefix = settings["signaturePrefix"] as? String else { throw Invalid(message: "webhook \(name): signaturePrefix must be a string") }
            endpoint.signaturePrefix = prefix
        }
        endpoint.idHeader = try string("idHeader")
        endpoint.eventHeader = try string("eventHeader")
        return endpoint
    }

    private static func secret(_ name: String, file: String?, variable: String?, environment: [String: String]) throws -> WebhookSecret {
        let text: String
        switch (file, variable) {
        case (let path?, nil):
            guard let data = FileManager.default.contents(atPath: path) else { throw Invalid(message: "webhook \(name): cannot read secretFile \(path)") }
            text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        case (nil, let variable?):
            guard let value = environment[variable] else { throw Invalid(message: "webhook \(name): environment variable \(variable) (secretEnv) is not set") }
            text = value
        default:
            throw Invalid(message: "webhook \(name): give exactly one of secretFile and secretEnv")
        }
        guard !text.isEmpty else { throw Invalid(message: "webhook \(name): its secret is empty") }
        return WebhookSecret(Array(text.utf8))
    }
}
