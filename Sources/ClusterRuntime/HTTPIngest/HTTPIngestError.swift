import Foundation
import GanglionWire

/// Why an HTTP ingest request (`POST /v1/topics/{topic}/events`, `POST /v1/webhooks/{name}`) was
/// refused: a code, the field or header that was wrong (when one was), and a message saying what
/// to do. Nothing of a refused request is stored unless the message says otherwise.
public struct HTTPIngestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of refusal this is; each maps to one HTTP status.
    public enum Code: String, Sendable, Hashable {
        /// A required CloudEvents attribute (or a sender's header) is absent: 400.
        case missingAttribute = "missing_attribute"
        /// An attribute is present but not acceptable (bad specversion, time, name): 400.
        case invalidAttribute = "invalid_attribute"
        /// The body is not the JSON its content type promises: 400.
        case malformedJSON = "malformed_json"
        /// The request is otherwise unusable (an empty topic name, a bad query): 400.
        case invalidRequest = "invalid_request"
        /// The signature header is missing, malformed or does not match: 401.
        case badSignature = "bad_signature"
        /// The signed timestamp is outside the webhook's tolerance (a replay or a skewed clock): 401.
        case staleTimestamp = "stale_timestamp"
        /// The topic does not exist: 404.
        case unknownTopic = "unknown_topic"
        /// No webhook of that name is configured: 404.
        case unknownWebhook = "unknown_webhook"
        /// A delivery with the same id is being stored by another request right now: 409 (retry).
        case deliveryInProgress = "delivery_in_progress"
        /// The body is larger than the node's limit: 413.
        case bodyTooLarge = "body_too_large"
        /// The content type is neither a CloudEvents format nor usable as binary data: 415.
        case unsupportedMediaType = "unsupported_media_type"
        /// An event does not satisfy its topic's schema subject, or the log refused it: 422.
        case rejected = "rejected"
        /// The node has too many HTTP produce requests waiting: 429 with `Retry-After`.
        case busy = "busy"
        /// A webhook's target topic is missing (the node's configuration, not the sender's fault): 503.
        case unavailable = "unavailable"
        /// The node failed to store the events: 500.
        case `internal` = "internal"

        /// The HTTP status of this code.
        public var status: Int {
            switch self {
            case .missingAttribute, .invalidAttribute, .malformedJSON, .invalidRequest: 400
            case .badSignature, .staleTimestamp: 401
            case .unknownTopic, .unknownWebhook: 404
            case .deliveryInProgress: 409
            case .bodyTooLarge: 413
            case .unsupportedMediaType: 415
            case .rejected: 422
            case .busy: 429
            case .unavailable: 503
            case .internal: 500
            }
        }
    }

    /// The kind of refusal.
    public var code: Code
    /// The header, attribute or JSON member that was wrong (`ce-id`, `[2].time`, `X-Hub-Signature-256`), if one was.
    public var field: String?
    /// What was wrong and what to do about it.
    public var message: String
    /// With ``Code/busy``: seconds to wait before retrying (the `Retry-After` header).
    public var retryAfterSeconds: Int?

    /// A refusal of kind `code` naming `field`.
    public init(_ code: Code, field: String? = nil, _ message: String, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.field = field
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// The HTTP status to answer.
    public var status: Int { code.status }

    /// The message.
    public var description: String { message }

    /// The JSON body answered: `{"error": code, "field": field, "message": message}`.
    public var jsonBody: [UInt8] {
        var members: [(String, JSONText.Value)] = [("error", .string(code.rawValue))]
        if let field { members.append(("field", .string(field))) }
        members.append(("message", .string(message)))
        return Array(JSONText.write(.object(members)).utf8)
    }

    /// The HTTP refusal of a produce refused by the node with `code` (``NodeError``'s codes).
    static func produce(_ code: Ganglion_V1_ErrorCode, _ message: String, retryAfterMilliseconds: UInt32 = 0) -> HTTPIngestError {
        switch code {
        case .unknownTopic, .unknownPartition: HTTPIngestError(.unknownTopic, field: "topic", message)
        case .schemaViolation, .corruptBatch, .recordTooLarge, .batchTooLarge, .invalidConfig: HTTPIngestError(.rejected, message)
        case .busy: HTTPIngestError(.busy, message, retryAfterSeconds: max(1, Int((retryAfterMilliseconds + 999) / 1000)))
        default: HTTPIngestError(.internal, "\(code): \(message)")
        }
    }
}
