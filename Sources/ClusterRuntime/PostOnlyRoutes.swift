import Hummingbird
import NIOCore

/// The HTTP paths served for POST only (asks, CloudEvents, webhooks) answer another method with
/// `405 Method Not Allowed`, `Allow: POST` and a JSON body saying what the path does — not 404,
/// which reads as "no such agent, topic or webhook".
enum PostOnlyRoutes {
    /// Each POST-only path and what a POST to it does.
    static let paths: [(path: String, does: String)] = [
        ("/v1/agents/:type/:key", "asks agent {type} about entity {key}"),
        ("/v1/topics/:topic/events", "stores CloudEvents on {topic}"),
        ("/v1/webhooks/:name", "stores a signed delivery of webhook {name}"),
    ]

    /// Adds the 405 answers for the other methods to `router`.
    static func register(on router: Router<BasicRequestContext>) {
        for (path, does) in paths {
            let shown = path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
            for method in [HTTPRequest.Method.get, .put, .delete, .patch] {
                router.on(RouterPath(path), method: method) { _, _ -> Response in
                    let body = JSONText.write(.object([("error", .string("method_not_allowed")),
                                                       ("message", .string("\(method) is not served here: POST /\(shown) \(does)"))]))
                    return Response(status: .methodNotAllowed, headers: [.contentType: "application/json", .allow: "POST"],
                                    body: .init(byteBuffer: ByteBuffer(string: body)))
                }
            }
        }
    }
}
