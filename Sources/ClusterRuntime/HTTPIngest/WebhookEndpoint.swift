import Foundation

/// One configured webhook, `POST /v1/webhooks/{name}`: which topic its deliveries go to, how the
/// sender signs them, and how a delivery becomes an event.
public struct WebhookEndpoint: Sendable {
    /// How a sender signs its deliveries.
    public enum Scheme: String, Sendable, CaseIterable {
        /// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`; `X-GitHub-Event` gives the
        /// type (`github.push`), `X-GitHub-Delivery` the event id.
        case github
        /// `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`; the body's `id` and
        /// `type` give the event id and type (`stripe.payment_intent.succeeded`).
        case stripe
        /// `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:timestamp:body">` with
        /// `X-Slack-Request-Timestamp`; the body's `event_id` and `event.type` give id and type.
        case slack
        /// An HMAC-SHA256 of the body in a header of your choosing, hex or base64, with an optional prefix.
        case hmac
    }

    /// How the generic scheme's signature is written.
    public enum SignatureEncoding: String, Sendable, CaseIterable {
        /// Lower- or upper-case hexadecimal.
        case hex
        /// Standard base64.
        case base64
    }

    /// The webhook's name (the last path segment).
    public var name: String
    /// The topic its events are stored on.
    public var topic: String
    /// The sender's signature scheme.
    public var scheme: Scheme
    /// The shared secret (never logged or printed).
    public var secret: WebhookSecret
    /// Stripe and Slack: how far the signed timestamp may be from the node's clock (seconds).
    public var toleranceSeconds = 300
    /// `hmac`: the header carrying the signature.
    public var signatureHeader = "X-Signature"
    /// `hmac`: how the signature is encoded.
    public var encoding = SignatureEncoding.hex
    /// `hmac`: text before the encoded signature (e.g. `sha256=`), required when set.
    public var signaturePrefix = ""
    /// `hmac`: the header naming the delivery (the event id, so a redelivery is stored once);
    /// without it every delivery gets a new id.
    public var idHeader: String?
    /// `hmac`: the header naming the event's kind; the type is then `<name>.<value>`.
    public var eventHeader: String?
    /// The event type when no header gives one (`hmac`; default `webhook.<name>`).
    public var type: String?
    /// The events' CloudEvents `source` (default `/webhooks/<name>`).
    public var source: String
    /// A JSON Pointer (RFC 6901, e.g. `/after`) into the body whose value is the event's key
    /// (partitioning, the agent entity); none: no key.
    public var keyPointer: String?
    /// How many recent delivery ids are remembered to store a redelivery once.
    public var dedupeCapacity = 10_000
    /// How long a delivery id is remembered (seconds).
    public var dedupeWindowSeconds = 86_400

    /// A webhook `name` storing `scheme`-signed deliveries on `topic`.
    public init(name: String, topic: String, scheme: Scheme, secret: WebhookSecret) {
        self.name = name
        self.topic = topic
        self.scheme = scheme
        self.secret = secret
        source = "/webhooks/\(name)"
    }
}

/// A webhook's shared secret. It prints as `<redacted>`, so a logged configuration never shows it.
public struct WebhookSecret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let bytes: [UInt8]

    /// A secret of these bytes (the text of a secret file or variable, as UTF-8).
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// `<redacted>`.
    public var description: String { "<redacted>" }
    /// `<redacted>`.
    public var debugDescription: String { "<redacted>" }
}
