import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import SchemaRegistry
import ServiceLifecycle

/// The node's HTTP port: `/health` (is the node ready to serve: 503 until a cluster's node has
/// joined and caught up) and `/metrics` (Prometheus text of
/// every swift-metrics counter the node keeps), the schema registry's REST API (Confluent
/// Schema Registry's paths: `/subjects`, `/schemas`, `/config`, `/mode`, `/compatibility`), asks
/// (`POST /v1/agents/{type}/{key}`) and HTTP ingest (`POST /v1/topics/{topic}/events` for
/// CloudEvents, `POST /v1/webhooks/{name}` for signed webhooks; docs/http.md). Port 0 picks a
/// free port; the bound address is added to `endpoints.json`.
public struct NodeHTTPService: Service {
    /// The running node.
    public let node: Node
    /// Where swift-metrics reports (bootstrapped by the executable, never by this library).
    public let registry: PrometheusCollectorRegistry
    /// Host to bind.
    public let host: String
    /// Port to bind (0: OS-chosen).
    public let port: Int
    /// The HTTP ingest's limits and webhooks.
    public let ingest: HTTPIngestSettings
    private let logger: Logger

    /// An HTTP service for `node`, reading metrics from `registry`, ingesting events as `ingest` says.
    public init(node: Node, registry: PrometheusCollectorRegistry, host: String = "127.0.0.1", port: Int = 7402,
                ingest: HTTPIngestSettings = HTTPIngestSettings(), logger: Logger = Logger(label: "ganglion.http")) {
        self.node = node
        self.registry = registry
        self.host = host
        self.port = port
        self.ingest = ingest
        self.logger = logger
    }

    /// Serves until graceful shutdown.
    public func run() async throws {
        let router = Router()
        let node = self.node, registry = self.registry
        // First: with security on, nothing but /health and signed webhooks passes without a token.
        router.add(middleware: HTTPAuthMiddleware(nodeGuard: node.nodeGuard))
        router.get("/health") { _, _ -> Response in
            // Readiness: 503 until a cluster's node has joined and caught up (Node.readiness).
            let (ready, reason) = node.readiness
            let quoted = String(decoding: (try? JSONEncoder().encode(reason)) ?? Data("\"\"".utf8), as: UTF8.self)
            let body = "{\"status\":\"\(ready ? "ok" : "starting")\",\"node\":\"\(node.nodeID)\",\"topics\":\(node.topicCount),\"reason\":\(quoted)}"
            return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.get("/metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.post("/v1/agents/:type/:key") { request, context -> Response in
            try await AgentAskRoute.answer(request, agent: context.parameters.get("type") ?? "", key: context.parameters.get("key") ?? "", node: node)
        }
        HTTPIngestRoutes(node: node, settings: ingest, logger: logger).register(on: router)
        PostOnlyRoutes.register(on: router)
        router.add(middleware: RegistryMiddleware(api: RegistryREST(service: node.registry), node: node))
        let host = self.host
        let application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? 0
                node.publishHTTPEndpoint("http://\(host):\(bound)")
            }, logger: logger)
        // The node's ServiceGroup owns the signals and shuts services down in order.
        do {
            try await application.runService(gracefulShutdownSignals: [])
        } catch let error as IOError where error.errnoCode == EADDRINUSE || error.errnoCode == EADDRNOTAVAIL || error.errnoCode == EACCES {
            let reason = error.errnoCode == EADDRINUSE ? "it is in use" : error.errnoCode == EACCES ? "permission denied" : "no such local address"
            throw NodeError(code: .invalidConfig, message: "HTTP cannot listen on \(host):\(port): \(reason) (errno \(error.errnoCode)); choose another --http")
        }
    }
}

/// Answers the registry's paths (before routing, so every method and depth reaches it).
/// On a node of a cluster that does not lead the controller, changes (every method but GET) go
/// through the node's request path, which forwards them to the leader.
struct RegistryMiddleware<Context: RequestContext>: RouterMiddleware {
    let api: RegistryREST
    let node: Node
    /// The largest request body read (a schema is at most 1 MiB, JSON-escaped).
    let maxBodyBytes = 4 << 20

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let raw = request.uri.path.split(separator: "/", omittingEmptySubsequences: true)
        guard let first = raw.first, RegistryREST.roots.contains(String(first)) else { return try await next(request, context) }
        let segments = raw.map { String($0).removingPercentEncoding ?? String($0) }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let answer: RegistryHTTPResponse
        do {
            let body = try await request.body.collect(upTo: maxBodyBytes)
            let operation = RegistryHTTPRequest(method: request.method.rawValue, segments: segments, query: query, body: Array(buffer: body))
            if request.method != .get, node.forwardsMetadataWrites {
                answer = await node.registryThroughAPI(operation)
            } else {
                answer = api.handle(operation)
            }
        } catch {
            answer = RegistryREST.error(RegistryError(42209, "the request body is larger than \(maxBodyBytes) bytes"))
        }
        return Response(status: .init(code: answer.status), headers: [.contentType: answer.contentType],
                        body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
