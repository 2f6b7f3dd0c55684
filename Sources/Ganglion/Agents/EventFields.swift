import ClusterCore
import Foundation
import GanglionWire

/// Resolves filter paths against an event: envelope attributes (`id`, `type`, `source`,
/// `subject`, `key`, `correlation_id`, `causation_id`, `extensions.NAME`) first, then fields of
/// the payload (`amount`, `customer.risk`, or `data.amount`): JSON as it is, protobuf through its
/// registry schema (``RegistryCodecs``, proto3 JSON names).
struct EventFields {
    let event: EventEnvelope
    private let payload: PayloadValue?

    /// The fields of `event`; `json` replaces its data when the payload is not JSON (protobuf decoded).
    init(_ event: EventEnvelope, json: Data? = nil) {
        self.event = event
        payload = try? JSONDecoder().decode(PayloadValue.self, from: json ?? event.data)
    }

    func value(at path: String) -> FilterValue? {
        switch path {
        case "id": return .string(event.id)
        case "type": return .string(event.type)
        case "source": return .string(event.source)
        case "subject": return .string(event.subject)
        case "key": return .string(String(decoding: event.key, as: UTF8.self))
        case "correlation_id": return .string(event.correlationID)
        case "causation_id": return .string(event.causationID)
        default: break
        }
        if path.hasPrefix("extensions.") { return event.extensions[String(path.dropFirst("extensions.".count))].map(FilterValue.string) }
        var current = payload
        for part in (path.hasPrefix("data.") ? String(path.dropFirst(5)) : path).split(separator: ".") {
            guard case .object(let object)? = current else { return nil }
            current = object[String(part)]
        }
        return current?.filterValue
    }
}

/// A JSON payload value (booleans kept apart from numbers).
enum PayloadValue: Decodable {
    case scalar(FilterValue)
    case object([String: PayloadValue])
    case array

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .scalar(.null) }
        else if let flag = try? container.decode(Bool.self) { self = .scalar(.bool(flag)) }
        else if let number = try? container.decode(Double.self) { self = .scalar(.number(number)) }
        else if let text = try? container.decode(String.self) { self = .scalar(.string(text)) }
        else if let object = try? container.decode([String: PayloadValue].self) { self = .object(object) }
        else { self = .array }
    }

    var filterValue: FilterValue? {
        if case .scalar(let value) = self { return value }
        return nil
    }
}
