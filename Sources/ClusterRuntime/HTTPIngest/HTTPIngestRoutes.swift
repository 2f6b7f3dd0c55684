import Foundation
import GanglionWire
import HTTPTypes
import Hummingbird
import Logging

/// The HTTP ingest endpoints of a node: `POST /v1/topics/{topic}/events` (CloudEvents, binary,
/// structured and batched) and `POST /v1/webhooks/{name}` (signed deliveries from GitHub, Stripe,
/// Slack or any HMAC sender). Both store through the node's produce path and answer only once
/// the events are acknowledged; refusals are JSON `{"error", "field", "message"}` with a 4xx
/// status (``HTTPIngestError``), and nothing a client sends can stop the node serving others.
struct HTTPIngestRoutes: Sendable {
    let node: Node
    let settings: HTTPIngestSettings
    let window: IngestWindow
    let deliveries: [String: WebhookDeliveries]
    let logger: Logger

    init(node: Node, settings: HTTPIngestSettings, logger: Logger) {
        self.node = node
        self.settings = settings
        self.logger = logger
        window = IngestWindow(limit: settings.maxRequestsInFlight)
        deliveries = settings.webhooks.mapValues { WebhookDeliveries(capacity: $0.dedupeCapacity, windowSeconds: $0.dedupeWindowSeconds) }
    }

    /// Adds both routes to `router`.
    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/topics/:topic/events") { request, context -> Response in
            await self.events(request, topic: Self.segment(context.parameters.get("topic")))
        }
        router.post("/v1/webhooks/:name") { request, context -> Response in
            await self.webhook(request, name: Self.segment(context.parameters.get("name")))
        }
    }

    // MARK: CloudEvents

    /// `POST /v1/topics/{topic}/events`: 201 with where each event was stored.
    func events(_ request: Request, topic: String) async -> Response {
        do {
            guard !topic.isEmpty else { throw HTTPIngestError(.invalidRequest, field: "topic", "the path names no topic") }
            guard node.metadataState.topics[topic] != nil else {
                throw HTTPIngestError(.unknownTopic, field: "topic", "topic \(topic) does not exist; create it with `ganglion topic create \(topic)`")
            }
            let body = try await Self.body(of: request, limit: settings.maxBodyBytes)
            let headers = request.headers.map { (name: $0.name.canonicalName, value: $0.value) }
            let events = try CloudEventsBinding.events(headers: headers, body: body)
            let stored = try await window.run { try await ingest(events, topic: topic) }
            NodeMetrics.httpIngest(endpoint: "events", outcome: "accepted")
            let list = stored.map { JSONText.Value.object([("id", .string($0.id)), ("partition", .int(Int64($0.partition))), ("offset", .int($0.offset))]) }
            return Self.json(.created, .object([("topic", .string(topic)), ("events", .array(list))]))
        } catch {
            return refusal(error, endpoint: "events")
        }
    }

    // MARK: Webhooks

    /// `POST /v1/webhooks/{name}`: 200 once the delivery is stored (or was stored before).
    func webhook(_ request: Request, name: String) async -> Response {
        do {
            guard let endpoint = settings.webhooks[name], let recent = deliveries[name] else {
                throw HTTPIngestError(.unknownWebhook, field: "name", "no webhook named \(name) is configured on this node (ganglion node --webhooks FILE)")
            }
            let body = try await Self.body(of: request, limit: settings.maxBodyBytes)
            var headers: [String: String] = [:]
            for field in request.headers where headers[field.name.canonicalName] == nil { headers[field.name.canonicalName] = field.value }
            let now = Date()
            try WebhookSignature.verify(endpoint, headers: headers, body: body, now: Int64(now.timeIntervalSince1970))
            let event: EventEnvelope
            let deduplicated: Bool
            switch try WebhookDelivery.of(endpoint, headers: headers, body: body, now: now) {
            case .challenge(let challenge):
                NodeMetrics.httpIngest(endpoint: name, outcome: "challenge")
                return Self.json(.ok, .object([("challenge", .string(challenge))]))
            case .event(let delivered, let fromSender):
                event = delivered
                deduplicated = fromSender
            }
            guard node.metadataState.topics[endpoint.topic] != nil else {
                throw HTTPIngestError(.unavailable, "webhook \(name) stores on topic \(endpoint.topic), which does not exist; create it with `ganglion topic create \(endpoint.topic)`")
            }
            let seconds = Int64(now.timeIntervalSince1970)
            if deduplicated {
                recent.seedOnce(now: seconds) {
                    node.recentEventIDs(topic: endpoint.topic, source: endpoint.source, notBefore: (seconds - Int64(endpoint.dedupeWindowSeconds)) * 1000,
                                        perPartition: endpoint.dedupeCapacity)
                }
                switch recent.claim(event.id, now: seconds) {
                case .new: break
                case .pending:
                    throw HTTPIngestError(.deliveryInProgress, field: "id", "delivery \(event.id) is being stored by another request; retry shortly")
                case .stored(let location):
                    NodeMetrics.httpIngest(endpoint: name, outcome: "duplicate")
                    var answer: [(String, JSONText.Value)] = [("id", .string(event.id)), ("topic", .string(endpoint.topic)), ("type", .string(event.type))]
                    if let location { answer += [("partition", .int(Int64(location.partition))), ("offset", .int(location.offset))] }
                    return Self.json(.ok, .object(answer + [("duplicate", .bool(true))]))
                }
            }
            let stored: StoredEvent
            do {
                guard let first = try await window.run({ try await ingest([event], topic: endpoint.topic) }).first else {
                    throw HTTPIngestError(.internal, "the node answered without a location for delivery \(event.id)")
                }
                stored = first
            } catch {
                if deduplicated { recent.release(event.id) }
                throw error
            }
            if deduplicated { recent.complete(event.id, at: stored, now: seconds) }
            NodeMetrics.httpIngest(endpoint: name, outcome: "accepted")
            return Self.json(.ok, .object([("id", .string(event.id)), ("topic", .string(endpoint.topic)), ("type", .string(event.type)),
                                           ("partition", .int(Int64(stored.partition))), ("offset", .int(stored.offset)), ("duplicate", .bool(false))]))
        } catch {
            return refusal(error, endpoint: settings.webhooks[name] == nil ? "unknown" : name)
        }
    }

    // MARK: Shared

    /// Stores through the node, turning its refusals into HTTP ones.
    private func ingest(_ events: [EventEnvelope], topic: String) async throws -> [StoredEvent] {
        do {
            return try await node.ingest(topic: topic, events: events)
        } catch let failure as NodeError {
            throw HTTPIngestError.produce(failure.code, failure.message)
        }
    }

    private func refusal(_ error: any Error, endpoint: String) -> Response {
        let refusal = error as? HTTPIngestError ?? HTTPIngestError(.internal, "\(error)")
        NodeMetrics.httpIngest(endpoint: endpoint, outcome: refusal.code.rawValue)
        if refusal.code == .badSignature || refusal.code == .staleTimestamp || refusal.code == .internal {
            logger.notice("HTTP ingest refused", metadata: ["ganglion.http.endpoint": "\(endpoint)", "ganglion.http.error": "\(refusal.code.rawValue)",
                                                             "ganglion.http.field": "\(refusal.field ?? "")"])
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        if let seconds = refusal.retryAfterSeconds { headers[.retryAfter] = String(seconds) }
        return Response(status: .init(code: refusal.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: refusal.jsonBody)))
    }

    /// The request body, refused with 413 past `limit` bytes (by its Content-Length before any is read).
    static func body(of request: Request, limit: Int) async throws -> [UInt8] {
        let tooLarge = HTTPIngestError(.bodyTooLarge, field: "body", "the request body is larger than this node's limit of \(limit) bytes (ganglion node --http-max-body-bytes)")
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw tooLarge }
        var bytes: [UInt8] = []
        do {
            for try await chunk in request.body {
                guard bytes.count + chunk.readableBytes <= limit else { throw tooLarge }
                bytes += chunk.readableBytesView
            }
        } catch let error as HTTPIngestError {
            throw error
        } catch {
            throw HTTPIngestError(.invalidRequest, field: "body", "the request body could not be read: \(error)")
        }
        return bytes
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONText.Value) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: JSONText.write(value))))
    }

    private static func segment(_ raw: String?) -> String {
        guard let raw else { return "" }
        return raw.removingPercentEncoding ?? raw
    }
}
