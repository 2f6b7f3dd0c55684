import ClusterCore
import Crypto
import Foundation
import Hummingbird

/// HTTP authentication and authorization when security is on. Every request but `/health` and
/// the signed webhooks (`/v1/webhooks/…`, authenticated by their own HMAC signatures) must carry a
/// token made with `ganglion security token create`: `Authorization: Bearer <token>`, or HTTP
/// Basic with the token as the password (the user name is ignored: the token names the principal),
/// which is what Confluent's clients send with `basic.auth.user.info`. A missing or unknown token
/// gets 401; a principal without the ACL the route needs gets 403 (both as Confluent's JSON
/// errors), logged and counted like refused requests on the protocol.
///
/// | route | needs |
/// |---|---|
/// | `GET /metrics` | describe cluster |
/// | `POST /v1/agents/{type}/{key}` | write group `type` |
/// | `POST /v1/topics/{topic}/events` | write topic |
/// | registry paths | as the REGISTRY request (``RequestAccess/registry(method:path:)``) |
struct HTTPAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let nodeGuard: NodeGuard?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let nodeGuard else { return try await next(request, context) }
        let path = request.uri.path.split(separator: "/", omittingEmptySubsequences: true).map { String($0).removingPercentEncoding ?? String($0) }
        if path == ["health"] || path.first == "v1" && path.dropFirst().first == "webhooks" { return try await next(request, context) }
        guard let principal = nodeGuard.principal(forHTTPAuthorization: request.headers[.authorization]) else {
            nodeGuard.refused(principal: "(no valid token)", what: "HTTP \(request.method) \(request.uri.path)", reason: "unauthenticated")
            return Self.error(.unauthorized, code: 40101,
                              "this node has security on: send `Authorization: Bearer <token>` (a token from `ganglion security token create`)",
                              headers: [.wwwAuthenticate: "Bearer realm=\"ganglion\""])
        }
        let checks = Self.checks(method: request.method.rawValue, path: path)
        if let refusal = nodeGuard.refusal(of: .all(checks), by: principal, kind: "HTTP \(request.method) \(request.uri.path)") {
            return Self.error(.forbidden, code: 40301, refusal)
        }
        return try await next(request, context)
    }

    /// What a route needs (nothing beyond a valid token for routes not listed).
    static func checks(method: String, path: [String]) -> [AccessCheck] {
        switch path.first {
        case "metrics": return [.cluster(.describe)]
        case "v1" where path.count == 4 && path[1] == "agents":
            return [AccessCheck(operation: .write, resourceType: .group, name: path[2])]
        case "v1" where path.count == 4 && path[1] == "topics" && path[3] == "events":
            return [AccessCheck(operation: .write, resourceType: .topic, name: path[2])]
        default: return RequestAccess.registry(method: method, path: path)
        }
    }

    private static func error(_ status: HTTPResponse.Status, code: Int, _ message: String, headers: HTTPFields = [:]) -> Response {
        let quoted = String(decoding: (try? JSONEncoder().encode(message)) ?? Data("\"\"".utf8), as: UTF8.self)
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: "{\"error_code\":\(code),\"message\":\(quoted)}")))
    }
}

extension NodeGuard {
    /// The principal of an `Authorization` header's token (Bearer, or Basic with the token as
    /// password), or nil when there is none or it is unknown.
    func principal(forHTTPAuthorization header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        let secret: String
        switch parts[0].lowercased() {
        case "bearer": secret = parts[1].trimmingCharacters(in: .whitespaces)
        case "basic":
            guard let decoded = Data(base64Encoded: parts[1].trimmingCharacters(in: .whitespaces)),
                  let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
            secret = String(text[text.index(after: colon)...])
        default: return nil
        }
        guard !secret.isEmpty else { return nil }
        return metadataSecurity.principal(forTokenHash: HTTPTokenSecret.hash(secret))
    }
}

/// How an HTTP token's secret is stored: its SHA-256, in hex (the secret itself never is).
enum HTTPTokenSecret {
    /// The hex SHA-256 of `secret`'s UTF-8 bytes.
    static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
