import Foundation
import GanglionWire

/// CloudEvents' HTTP protocol binding (version 1.0) read into event envelopes: binary mode
/// (attributes in `ce-*` headers, `Content-Type` the data's type, the body the data), structured
/// mode (`application/cloudevents+json`: the event as one JSON object) and batched mode
/// (`application/cloudevents-batch+json`: a JSON array of such objects). Attributes map to the
/// envelope as ``CloudEventAttributes`` says. Pure: bytes in, envelopes or an ``HTTPIngestError`` out.
enum CloudEventsBinding {
    /// The structured mode's media type.
    static let structuredType = "application/cloudevents+json"
    /// The batched mode's media type.
    static let batchType = "application/cloudevents-batch+json"

    /// The events of one request. `headers` are (lower-cased name, value) pairs.
    static func events(headers: [(name: String, value: String)], body: [UInt8]) throws -> [EventEnvelope] {
        let contentType = headers.first { $0.name == "content-type" }?.value ?? ""
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch mediaType {
        case structuredType: return [try structured(body)]
        case batchType: return try batch(body)
        case let other where other.hasPrefix("application/cloudevents"):
            throw HTTPIngestError(.unsupportedMediaType, field: "content-type",
                                  "\(other) is not supported; send \(structuredType), \(batchType), or binary mode (ce-* headers)")
        default: return [try binary(headers: headers, contentType: contentType, body: body)]
        }
    }

    /// Binary mode: `ce-*` headers (values percent-decoded, as the binding asks), the body as data.
    static func binary(headers: [(name: String, value: String)], contentType: String, body: [UInt8]) throws -> EventEnvelope {
        var event = EventEnvelope()
        for (name, value) in headers where name.hasPrefix("ce-") {
            let attribute = String(name.dropFirst(3))
            guard attribute != "datacontenttype" else {
                throw HTTPIngestError(.invalidAttribute, field: name, "in binary mode the data's type is the Content-Type header, not \(name)")
            }
            guard let decoded = value.contains("%") ? value.removingPercentEncoding : value else {
                throw HTTPIngestError(.invalidAttribute, field: name, "\(name) has a malformed percent-encoding")
            }
            try CloudEventAttributes.apply(attribute, decoded, to: &event, field: name)
        }
        if event.specVersion.isEmpty {
            throw HTTPIngestError(.missingAttribute, field: "ce-specversion",
                                  "no ce-specversion header: send the event in binary mode (ce-id, ce-source, ce-type, ce-specversion: 1.0) or as \(structuredType)")
        }
        try CloudEventAttributes.checkRequired(event, prefix: "ce-")
        event.dataContentType = contentType
        event.data = Data(body)
        return event
    }

    /// Structured mode: one JSON object.
    static func structured(_ body: [UInt8]) throws -> EventEnvelope {
        guard let object = try parse(body) as? [String: Any] else {
            throw HTTPIngestError(.malformedJSON, field: "body", "a \(structuredType) body is one JSON object")
        }
        return try event(in: JSONSpans(bytes: body), at: 0, object: object, prefix: "")
    }

    /// Batched mode: a JSON array of structured events (an empty array is an empty batch).
    static func batch(_ body: [UInt8]) throws -> [EventEnvelope] {
        guard let array = try parse(body) as? [Any] else {
            throw HTTPIngestError(.malformedJSON, field: "body", "a \(batchType) body is a JSON array of events")
        }
        let spans = JSONSpans(bytes: body)
        let elements = spans.elements(ofArrayAt: 0)
        guard elements.count == array.count else { throw HTTPIngestError(.malformedJSON, field: "body", "the batch could not be split into its events") }
        return try elements.enumerated().map { index, range in
            guard let object = array[index] as? [String: Any] else {
                throw HTTPIngestError(.malformedJSON, field: "[\(index)]", "element \(index) of the batch is not a JSON object")
            }
            return try event(in: spans, at: range.lowerBound, object: object, prefix: "[\(index)].")
        }
    }

    private static func parse(_ body: [UInt8]) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            // Foundation's debug description says where ("… around line 1, column 9"); its localized one does not.
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
            throw HTTPIngestError(.malformedJSON, field: "body", "the body is not valid JSON: \(detail)")
        }
    }

    /// The event of the object at `start` (already parsed as `object`); `data` keeps the sender's bytes.
    private static func event(in spans: JSONSpans, at start: Int, object: [String: Any], prefix: String) throws -> EventEnvelope {
        var event = EventEnvelope()
        var data: Range<Int>?
        var dataBase64: String?
        for (name, range) in spans.members(ofObjectAt: start) {
            let field = prefix + name
            let value = object[name]
            if value == nil || value is NSNull { continue }   // null is an absent attribute
            switch name {
            case "data": data = range
            case "data_base64":
                guard let text = value as? String else { throw HTTPIngestError(.invalidAttribute, field: field, "\(field) must be a base64 string") }
                dataBase64 = text
            default:
                let text: String
                switch value {
                case let string as String: text = string
                case let number as NSNumber where ["id", "source", "specversion", "type", "subject", "time", "datacontenttype", "dataschema"].contains(name):
                    throw HTTPIngestError(.invalidAttribute, field: field, "\(field) must be a string, not \(number)")
                case is NSNumber: text = String(decoding: spans.bytes[range], as: UTF8.self)   // an extension's number or boolean, as written
                default: throw HTTPIngestError(.invalidAttribute, field: field, "\(field) must be a string, number or boolean")
                }
                try CloudEventAttributes.apply(name, text, to: &event, field: field)
            }
        }
        try CloudEventAttributes.checkRequired(event, prefix: prefix)
        switch (data, dataBase64) {
        case (.some, .some):
            throw HTTPIngestError(.invalidAttribute, field: prefix + "data_base64", "an event has data or data_base64, not both")
        case (nil, let text?):
            guard let bytes = Data(base64Encoded: text) else {
                throw HTTPIngestError(.invalidAttribute, field: prefix + "data_base64", "\(prefix)data_base64 is not valid base64")
            }
            event.data = bytes
        case (let range?, nil):
            if CloudEventAttributes.isJSON(event.dataContentType) {
                // JSON data is stored as the JSON text the sender wrote.
                event.data = Data(spans.bytes[range])
                if event.dataContentType.isEmpty { event.dataContentType = "application/json" }
            } else if let text = object["data"] as? String {
                event.data = Data(text.utf8)
            } else {
                throw HTTPIngestError(.invalidAttribute, field: prefix + "data",
                                      "with datacontenttype \(event.dataContentType), data must be a string (or use data_base64)")
            }
        case (nil, nil): break
        }
        return event
    }
}
