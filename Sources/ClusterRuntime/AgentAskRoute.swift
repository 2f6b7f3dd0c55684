import Foundation
import GanglionWire
import HTTPTypes
import Hummingbird

/// `POST /v1/agents/{type}/{key}`: asks agent `type` about entity `key` (the body is the request
/// payload; query `type` names the request event's type, `timeout_ms` the wait, `id` the request
/// id for a safe retry). Answers 200 with the reply's data and content type; 404 for an unknown
/// agent, 504 when no reply came in time, 502 when the handler failed every attempt, 4xx for
/// bad input — each with a JSON body `{"error_code": …, "message": …}`.
enum AgentAskRoute {
    /// The largest request payload read.
    static let maxBodyBytes = 4 << 20

    static func answer(_ request: Request, agent: String, key: String, node: Node) async throws -> Response {
        let query = request.uri.queryParameters
        let timeoutText = query["timeout_ms"].map(String.init)
        guard let timeout = timeoutText.map({ UInt32($0) }) ?? .some(0) else {
            return error(.badRequest, .invalidConfig, "timeout_ms must be a whole number of milliseconds, not \(timeoutText ?? "")")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            return self.error(.contentTooLarge, .batchTooLarge, "the request body is larger than \(maxBodyBytes) bytes")
        }
        do {
            let reply = try await node.ask(agent: agent, key: Array(key.utf8), type: query["type"].map(String.init) ?? "",
                                           data: Data(buffer: body), contentType: request.headers[.contentType] ?? "",
                                           timeoutMilliseconds: timeout, id: query["id"].map(String.init) ?? "")
            if let failure = reply.error { return error(.badGateway, .internal, "agent \(agent) failed the request: \(failure)") }
            let contentType = reply.event.dataContentType.isEmpty ? "application/json" : reply.event.dataContentType
            return Response(status: .ok, headers: [.contentType: contentType, HTTPField.Name("Ganglion-Reply-Id")!: reply.event.id],
                            body: .init(byteBuffer: ByteBuffer(bytes: reply.event.data)))
        } catch let failure as NodeError {
            let status: HTTPResponse.Status = switch failure.code {
            case .unknownGroup, .unknownTopic: .notFound
            case .timeout: .gatewayTimeout
            case .malformedRequest, .invalidConfig: .badRequest
            case .schemaViolation, .corruptBatch: .unprocessableContent
            case .batchTooLarge, .recordTooLarge: .contentTooLarge
            case .busy: .serviceUnavailable
            default: .internalServerError
            }
            return error(status, failure.code, failure.message)
        }
    }

    private static func error(_ status: HTTPResponse.Status, _ code: Ganglion_V1_ErrorCode, _ message: String) -> Response {
        let body = (try? JSONSerialization.data(withJSONObject: ["error_code": code.rawValue, "message": message], options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
