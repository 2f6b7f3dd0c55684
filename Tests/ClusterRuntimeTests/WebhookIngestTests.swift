import ClusterRuntime
import Crypto
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// `POST /v1/webhooks/{name}` through a real node over real HTTP: signed deliveries of each
/// scheme are stored with the sender's id and type and the body as signed; bad or missing
/// signatures, stale timestamps and oversized bodies get 4xx and store nothing; a redelivery is
/// stored once, also after the node restarts.
final class WebhookIngestTests: XCTestCase {
    private var directory = ""
    private let secret = WebhookSignatureTests.secret

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-webhooks-" + UUID().uuidString }
    /// Every node the test started, stopped and waited for before its directory is removed (also
    /// when the test failed or threw before stopping it).
    private var started: [IngestNode] = []

    override func tearDown() async throws {
        await stopAndRemove(started, directory: directory)
        started = []
    }

    private func settings() throws -> HTTPIngestSettings {
        let json = """
            {"github": {"topic": "hooks", "scheme": "github", "secretEnv": "TEST_HOOK_SECRET", "key": "/after"},
             "stripe": {"topic": "hooks", "scheme": "stripe", "secretEnv": "TEST_HOOK_SECRET"},
             "slack": {"topic": "hooks", "scheme": "slack", "secretEnv": "TEST_HOOK_SECRET"},
             "partner": {"topic": "hooks", "scheme": "hmac", "secretEnv": "TEST_HOOK_SECRET", "signatureHeader": "X-Partner-Signature",
                         "encoding": "base64", "idHeader": "X-Partner-Delivery", "eventHeader": "X-Partner-Event"}}
            """
        var settings = HTTPIngestSettings()
        settings.maxBodyBytes = 8_192
        settings.webhooks = try WebhookConfiguration.parse(Data(json.utf8), environment: ["TEST_HOOK_SECRET": secret])
        return settings
    }

    private func hex(_ data: [UInt8], secret: String? = nil) -> String { WebhookSignatureTests.hmacHex(data, secret: secret ?? self.secret) }

    private func push(_ delivery: String, body: [UInt8], signature: String?) -> [(String, String)] {
        var headers = [("X-GitHub-Event", "push"), ("X-GitHub-Delivery", delivery), ("Content-Type", "application/json")]
        if let signature { headers.append(("X-Hub-Signature-256", signature)) }
        return headers
    }

    private func events(_ client: GanglionClient) async throws -> [EventEnvelope] { try await storedEvents(client, "hooks") }

    func testAGitHubPushIsStoredOnceAndBadSignaturesAreRefused() async throws {
        let node = try await startIngestNode(directory, ingest: try settings())
        started.append(node)
        let client = try GanglionClient(endpoint: node.api)
        defer { client.close() }
        try await client.createTopic("hooks", partitions: 2)
        let url = node.http + "/v1/webhooks/github"
        let body = Array(#"{"ref":"refs/heads/main","after":"9f8e7d6c","head_commit":{"id":"9f8e7d6c","message":"Fix retry test"}}"#.utf8)
        let signature = "sha256=" + hex(body)

        let first = try await httpPost(url, push("delivery-1", body: body, signature: signature), body)
        XCTAssertEqual(first.status, 200, first.text)
        XCTAssertEqual(first.json["duplicate"] as? Bool, false)
        XCTAssertEqual(first.json["type"] as? String, "github.push")
        let again = try await httpPost(url, push("delivery-1", body: body, signature: signature), body)
        XCTAssertEqual(again.status, 200, again.text)
        XCTAssertEqual(again.json["duplicate"] as? Bool, true, "a redelivery is acknowledged, not stored")
        XCTAssertEqual(again.json["offset"] as? Int, first.json["offset"] as? Int)
        XCTAssertEqual(again.json["partition"] as? Int, first.json["partition"] as? Int)

        let tampered = Array(#"{"ref":"refs/heads/main","after":"evil"}"#.utf8)
        let oversized = [UInt8](repeating: 0x20, count: 9_000)
        let refusals: [(String, [(String, String)], [UInt8], Int, String)] = [
            ("wrong secret", push("delivery-2", body: body, signature: "sha256=" + hex(body, secret: "not-the-secret")), body, 401, "bad_signature"),
            ("tampered body", push("delivery-3", body: body, signature: signature), tampered, 401, "bad_signature"),
            ("missing signature", push("delivery-4", body: body, signature: nil), body, 401, "bad_signature"),
            ("sha1 signature", push("delivery-5", body: body, signature: "sha1=" + hex(body)), body, 401, "bad_signature"),
            ("oversized body", push("delivery-6", body: oversized, signature: "sha256=" + hex(oversized)), oversized, 413, "body_too_large"),
            ("no event header", [("X-GitHub-Delivery", "delivery-7"), ("X-Hub-Signature-256", signature)], body, 400, "missing_attribute"),
        ]
        for (what, headers, sent, status, code) in refusals {
            let answer = try await httpPost(url, headers, sent)
            XCTAssertEqual(answer.status, status, "\(what): \(answer.text)")
            XCTAssertEqual(answer.json["error"] as? String, code, what)
        }
        let missing = try await httpPost(url, push("delivery-4", body: body, signature: nil), body)
        XCTAssertEqual(missing.json["field"] as? String, "X-Hub-Signature-256")
        let unknown = try await httpPost(node.http + "/v1/webhooks/gitlab", push("d", body: body, signature: signature), body)
        XCTAssertEqual(unknown.status, 404, unknown.text)

        let stored = try await events(client)
        XCTAssertEqual(stored.map(\.id), ["delivery-1"], "one event: the redelivery and every refused delivery stored nothing")
        let event = try XCTUnwrap(stored.first)
        XCTAssertEqual(event.type, "github.push")
        XCTAssertEqual(event.source, "/webhooks/github")
        XCTAssertEqual(event.data, Data(body), "the body exactly as signed")
        XCTAssertEqual(event.key, Data("9f8e7d6c".utf8), "the key from the body's /after")
        XCTAssertEqual(event.extensions["webhook"], "github")
        await node.stop()
    }

    func testStripeSlackAndGenericHMACDeliveries() async throws {
        let node = try await startIngestNode(directory, ingest: try settings())
        started.append(node)
        let client = try GanglionClient(endpoint: node.api)
        defer { client.close() }
        try await client.createTopic("hooks", partitions: 1)
        let now = Int64(Date().timeIntervalSince1970)

        let payment = Array(#"{"id":"evt_1N","type":"payment_intent.succeeded","data":{"object":{"amount":2000}}}"#.utf8)
        func stripe(_ timestamp: Int64, _ body: [UInt8], secret: String? = nil) -> [(String, String)] {
            [("Stripe-Signature", "t=\(timestamp),v1=\(hex(Array("\(timestamp).".utf8) + body, secret: secret))"), ("Content-Type", "application/json")]
        }
        let paid = try await httpPost(node.http + "/v1/webhooks/stripe", stripe(now, payment), payment)
        XCTAssertEqual(paid.status, 200, paid.text)
        let stale = try await httpPost(node.http + "/v1/webhooks/stripe", stripe(now - 600, payment), payment)
        XCTAssertEqual(stale.status, 401, stale.text)
        XCTAssertEqual(stale.json["error"] as? String, "stale_timestamp")
        let wrong = try await httpPost(node.http + "/v1/webhooks/stripe", stripe(now, payment, secret: "whsec_wrong"), payment)
        XCTAssertEqual(wrong.status, 401, wrong.text)
        let replay = try await httpPost(node.http + "/v1/webhooks/stripe", stripe(now, payment), payment)
        XCTAssertEqual(replay.json["duplicate"] as? Bool, true, replay.text)

        let message = Array(#"{"type":"event_callback","event_id":"Ev01","event":{"type":"app_mention","text":"deploy"}}"#.utf8)
        func slack(_ timestamp: Int64, _ body: [UInt8]) -> [(String, String)] {
            [("X-Slack-Request-Timestamp", "\(timestamp)"), ("X-Slack-Signature", "v0=" + hex(Array("v0:\(timestamp):".utf8) + body)), ("Content-Type", "application/json")]
        }
        let mention = try await httpPost(node.http + "/v1/webhooks/slack", slack(now, message), message)
        XCTAssertEqual(mention.status, 200, mention.text)
        let old = try await httpPost(node.http + "/v1/webhooks/slack", slack(now - 301, message), message)
        XCTAssertEqual(old.json["error"] as? String, "stale_timestamp", old.text)
        let check = Array(#"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#.utf8)
        let challenge = try await httpPost(node.http + "/v1/webhooks/slack", slack(now, check), check)
        XCTAssertEqual(challenge.json["challenge"] as? String, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", challenge.text)

        let order = Array(#"{"order":"A-17"}"#.utf8)
        let mac = Data(HMAC<SHA256>.authenticationCode(for: order, using: SymmetricKey(data: Array(secret.utf8)))).base64EncodedString()
        let partner = [("X-Partner-Delivery", "p-1"), ("X-Partner-Event", "order.shipped"), ("Content-Type", "application/json")]
        let shipped = try await httpPost(node.http + "/v1/webhooks/partner", partner + [("X-Partner-Signature", mac)], order)
        XCTAssertEqual(shipped.status, 200, shipped.text)
        let unsigned = try await httpPost(node.http + "/v1/webhooks/partner", partner + [("X-Partner-Signature", mac)], order + [0x20])
        XCTAssertEqual(unsigned.status, 401, unsigned.text)

        let stored = Dictionary(uniqueKeysWithValues: try await events(client).map { ($0.id, $0) })
        XCTAssertEqual(Set(stored.keys), ["evt_1N", "Ev01", "p-1"])
        XCTAssertEqual(stored["evt_1N"]?.type, "stripe.payment_intent.succeeded")
        XCTAssertEqual(stored["evt_1N"]?.data, Data(payment))
        XCTAssertEqual(stored["Ev01"]?.type, "slack.app_mention")
        XCTAssertEqual(stored["p-1"]?.type, "partner.order.shipped")
        XCTAssertEqual(stored["p-1"]?.data, Data(order))
        await node.stop()
    }

    func testARedeliveryAfterARestartIsStoredOnce() async throws {
        var node = try await startIngestNode(directory, ingest: try settings())
        started.append(node)
        var client = try GanglionClient(endpoint: node.api)
        try await client.createTopic("hooks", partitions: 2)
        let body = Array(#"{"after":"0123abcd","head_commit":{"id":"0123abcd","message":"m"}}"#.utf8)
        let headers = push("delivery-r", body: body, signature: "sha256=" + hex(body))
        let first = try await httpPost(node.http + "/v1/webhooks/github", headers, body)
        XCTAssertEqual(first.json["duplicate"] as? Bool, false, first.text)
        client.close()
        await node.stop()

        node = try await startIngestNode(directory, ingest: try settings())
        started.append(node)

        started.append(node)
        client = try GanglionClient(endpoint: node.api)
        defer { client.close() }
        let again = try await httpPost(node.http + "/v1/webhooks/github", headers, body)
        XCTAssertEqual(again.status, 200, again.text)
        XCTAssertEqual(again.json["duplicate"] as? Bool, true, "remembered from the topic's tail: \(again.text)")
        let stored = try await events(client)
        XCTAssertEqual(stored.map(\.id), ["delivery-r"])
        await node.stop()
    }
}
