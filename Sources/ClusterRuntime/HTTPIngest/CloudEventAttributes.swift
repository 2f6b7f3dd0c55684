import Foundation
import GanglionWire

/// How a CloudEvents attribute lands in an ``EventEnvelope`` — one mapping for both HTTP modes,
/// matching what the Swift producer and the CLI write:
///
/// | attribute | envelope field |
/// |---|---|
/// | `id`, `source`, `specversion`, `type`, `subject`, `dataschema` | the field of that name |
/// | `time` (RFC 3339) | `time` |
/// | `datacontenttype` (binary mode: `Content-Type`) | `data_content_type` |
/// | `partitionkey` (the CloudEvents Partitioning extension, Kafka's key) | `key` (UTF-8) |
/// | `traceparent`, `tracestate` (Distributed Tracing extension) | `traceparent`, `tracestate` |
/// | `correlationid`, `causationid` | `correlation_id`, `causation_id` |
/// | `schemaid` (decimal), `messagename` | `schema_id`, `message_name` |
/// | any other name (lower-case letters and digits) | `extensions[name]` |
enum CloudEventAttributes {
    /// The CloudEvents version accepted.
    static let specVersion = EventEnvelope.cloudEventsSpecVersion
    /// The longest extension name accepted (CloudEvents asks for at most 20; this is the hard limit).
    static let maxNameLength = 64

    /// Sets attribute `name` to `value` on `event`; `field` is how the request spelled it, for errors.
    static func apply(_ name: String, _ value: String, to event: inout EventEnvelope, field: String) throws {
        switch name {
        case "id": event.id = value
        case "source": event.source = value
        case "specversion":
            guard value == specVersion else {
                throw HTTPIngestError(.invalidAttribute, field: field, "\(field) is \"\(value)\"; this node accepts CloudEvents \(specVersion) only")
            }
            event.specVersion = value
        case "type": event.type = value
        case "subject": event.subject = value
        case "dataschema": event.dataSchema = value
        case "datacontenttype": event.dataContentType = value
        case "time":
            guard let time = RFC3339Time.parse(value) else {
                throw HTTPIngestError(.invalidAttribute, field: field, "\(field) \"\(value)\" is not an RFC 3339 time such as 2026-11-21T10:00:00Z")
            }
            event.time = time
        case "partitionkey": event.key = Data(value.utf8)
        case "traceparent": event.traceparent = value
        case "tracestate": event.tracestate = value
        case "correlationid": event.correlationID = value
        case "causationid": event.causationID = value
        case "schemaid":
            guard let id = UInt32(value) else {
                throw HTTPIngestError(.invalidAttribute, field: field, "\(field) \"\(value)\" is not a schema id (a whole number from 0 to 4294967295)")
            }
            event.schemaID = id
        case "messagename": event.messageName = value
        default:
            guard !name.isEmpty, name.utf8.count <= maxNameLength,
                  name.utf8.allSatisfy({ ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) }) else {
                throw HTTPIngestError(.invalidAttribute, field: field,
                                      "\(field): a CloudEvents extension name is 1 to \(maxNameLength) lower-case letters and digits")
            }
            event.extensions[name] = value
        }
    }

    /// Checks that the required attributes are present; `prefix` names them as the request does
    /// (`ce-` in binary mode, `[3].` in a batch).
    static func checkRequired(_ event: EventEnvelope, prefix: String) throws {
        for (name, value) in [("specversion", event.specVersion), ("id", event.id), ("source", event.source), ("type", event.type)] where value.isEmpty {
            throw HTTPIngestError(.missingAttribute, field: prefix + name, "the event has no \(prefix + name); CloudEvents requires id, source, specversion and type")
        }
    }

    /// Whether `mediaType` is JSON (`application/json`, `text/json`, `…+json`), so structured
    /// mode keeps `data` as JSON text.
    static func isJSON(_ mediaType: String) -> Bool {
        let bare = mediaType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return bare.isEmpty || bare == "application/json" || bare == "text/json" || bare.hasSuffix("+json")
    }
}
