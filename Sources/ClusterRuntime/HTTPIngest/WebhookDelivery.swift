import Foundation
import GanglionWire
import SwiftProtobuf

/// What an authenticated delivery asks of the node: an event to store, or (Slack's
/// `url_verification`) a challenge to echo, storing nothing.
enum WebhookDelivery {
    /// Store `event`; `deduplicated` when its id comes from the sender (a redelivery keeps it).
    case event(EventEnvelope, deduplicated: Bool)
    /// Answer `{"challenge": value}` (Slack's endpoint check).
    case challenge(String)

    /// The delivery of an authenticated request (`headers` with lower-cased names). The event's
    /// id, type and key come from the sender's headers or body as the scheme defines; its data
    /// is the body exactly as signed.
    static func of(_ endpoint: WebhookEndpoint, headers: [String: String], body: [UInt8], now: Date) throws -> WebhookDelivery {
        var event = EventEnvelope()
        event.specVersion = EventEnvelope.cloudEventsSpecVersion
        event.source = endpoint.source
        event.time = Google_Protobuf_Timestamp(date: now)
        event.dataContentType = headers["content-type"] ?? "application/json"
        event.data = Data(body)
        event.extensions["webhook"] = endpoint.name
        let json = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        var deduplicated = true
        switch endpoint.scheme {
        case .github:
            event.id = try header("X-GitHub-Delivery", in: headers)
            event.type = "github." + (try header("X-GitHub-Event", in: headers))
        case .stripe:
            guard let object = json as? [String: Any] else {
                throw HTTPIngestError(.malformedJSON, field: "body", "a Stripe event body is a JSON object")
            }
            guard let id = object["id"] as? String, !id.isEmpty else { throw HTTPIngestError(.missingAttribute, field: "id", "the Stripe event has no id") }
            guard let type = object["type"] as? String, !type.isEmpty else { throw HTTPIngestError(.missingAttribute, field: "type", "the Stripe event has no type") }
            event.id = id
            event.type = "stripe." + type
        case .slack:
            let object = json as? [String: Any] ?? [:]
            if object["type"] as? String == "url_verification" { return .challenge(object["challenge"] as? String ?? "") }
            let inner = (object["event"] as? [String: Any])?["type"] as? String
            event.type = "slack." + (inner ?? object["type"] as? String ?? "request")
            if let id = object["event_id"] as? String, !id.isEmpty {
                event.id = id
            } else {
                event.id = UUID().uuidString.lowercased()
                deduplicated = false
            }
        case .hmac:
            if let idHeader = endpoint.idHeader {
                event.id = try header(idHeader, in: headers)
            } else {
                event.id = UUID().uuidString.lowercased()
                deduplicated = false
            }
            if let eventHeader = endpoint.eventHeader {
                event.type = endpoint.name + "." + (try header(eventHeader, in: headers))
            } else {
                event.type = endpoint.type ?? "webhook.\(endpoint.name)"
            }
        }
        if let fixed = endpoint.type, endpoint.scheme != .hmac { event.type = fixed }
        if let pointer = endpoint.keyPointer, let json, let key = value(at: pointer, in: json) { event.key = Data(key.utf8) }
        return .event(event, deduplicated: deduplicated)
    }

    private static func header(_ name: String, in headers: [String: String]) throws -> String {
        guard let value = headers[name.lowercased()]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
            throw HTTPIngestError(.missingAttribute, field: name, "the delivery has no \(name) header")
        }
        guard value.utf8.count <= 256 else { throw HTTPIngestError(.invalidAttribute, field: name, "\(name) is longer than 256 bytes") }
        return value
    }

    /// The scalar at a JSON Pointer (RFC 6901), as text; nil when absent or not a scalar.
    static func value(at pointer: String, in json: Any) -> String? {
        var current: Any = json
        for token in pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let name = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let object = current as? [String: Any], let next = object[name] {
                current = next
            } else if let array = current as? [Any], let index = Int(name), array.indices.contains(index) {
                current = array[index]
            } else {
                return nil
            }
        }
        switch current {
        case let text as String: return text.isEmpty ? nil : text
        case let number as NSNumber: return number.stringValue
        default: return nil
        }
    }
}
