import AsyncHTTPClient
import ClusterRuntime
import Foundation
import NIOHTTP1
import XCTest

/// The POST-only paths answer another method with 405 and `Allow: POST`: a `curl` of an ask
/// without `-X POST` got 404, which reads as "no such agent".
final class HTTPMethodTests: XCTestCase {
    private var directory = ""
    /// Every node the test started, stopped and waited for before its directory is removed.
    private var started: [IngestNode] = []

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-http-method-" + UUID().uuidString }
    override func tearDown() async throws {
        await stopAndRemove(started, directory: directory)
        started = []
    }

    func testAnotherMethodOnAPostOnlyPathIs405NamingPost() async throws {
        let node = try await startIngestNode(directory)
        started.append(node)
        let requests: [(HTTPMethod, String)] = [(.GET, "/v1/agents/task-worker/task-3"), (.GET, "/v1/topics/orders/events"),
                                                (.PUT, "/v1/webhooks/github"), (.DELETE, "/v1/agents/fraud-detection/customer-1")]
        for (method, path) in requests {
            let answer = try await httpRequest(method, node.http + path, [])
            XCTAssertEqual(answer.status, 405, "\(method) \(path): \(answer.text)")
            XCTAssertEqual(answer.headers["allow"], "POST", "\(method) \(path)")
            XCTAssertEqual(answer.json["error"] as? String, "method_not_allowed", answer.text)
            XCTAssertTrue((answer.json["message"] as? String ?? "").contains("POST"), answer.text)
        }
        // POST is still routed: an unknown webhook is named.
        let posted = try await httpPost(node.http + "/v1/webhooks/nothing", [], [])
        XCTAssertEqual(posted.status, 404, posted.text)
        XCTAssertEqual(posted.json["error"] as? String, "unknown_webhook", posted.text)
    }
}
