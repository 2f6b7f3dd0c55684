/// The settings of a node's HTTP ingest: `POST /v1/topics/{topic}/events` (CloudEvents) and
/// `POST /v1/webhooks/{name}` (signed webhooks).
public struct HTTPIngestSettings: Sendable {
    /// The largest request body accepted (413 beyond it); 1 MiB by default.
    public var maxBodyBytes = 1 << 20
    /// The most HTTP produce requests (events and webhooks) waiting for acknowledgement at once
    /// on this node; beyond it requests get 429 with `Retry-After`.
    public var maxRequestsInFlight = 1024
    /// The webhooks served, by name (the path's `{name}`).
    public var webhooks: [String: WebhookEndpoint] = [:]

    /// The defaults: 1 MiB bodies, 1024 requests in flight, no webhooks.
    public init() {}
}
