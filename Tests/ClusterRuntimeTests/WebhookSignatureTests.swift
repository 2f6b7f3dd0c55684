@testable import ClusterRuntime
import Crypto
import Foundation
import GanglionWire
import XCTest

/// Signature checks of each webhook scheme with good and bad input (no node), the webhooks file,
/// and the recent-delivery set that stores a redelivery once.
final class WebhookSignatureTests: XCTestCase {
    static let secret = "It's a Secret to Everybody"
    private let body = Array(#"{"id":"evt_1","type":"payment_intent.succeeded","after":"abc123"}"#.utf8)
    private let now: Int64 = 1_800_000_000

    static func hmacHex(_ data: [UInt8], secret: String = secret) -> String {
        HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: Array(secret.utf8))).map { String(format: "%02x", $0) }.joined()
    }

    private func endpoint(_ scheme: WebhookEndpoint.Scheme, secret: String = secret) -> WebhookEndpoint {
        WebhookEndpoint(name: "hook", topic: "t", scheme: scheme, secret: WebhookSecret(Array(secret.utf8)))
    }

    private func verdict(_ endpoint: WebhookEndpoint, _ headers: [String: String], body: [UInt8]? = nil) -> HTTPIngestError? {
        do {
            try WebhookSignature.verify(endpoint, headers: headers, body: body ?? self.body, now: now)
            return nil
        } catch {
            return error as? HTTPIngestError ?? HTTPIngestError(.internal, "\(error)")
        }
    }

    func testGitHubSignatures() {
        let good = ["x-hub-signature-256": "sha256=" + Self.hmacHex(body)]
        XCTAssertNil(verdict(endpoint(.github), good))
        XCTAssertNil(verdict(endpoint(.github), ["x-hub-signature-256": "sha256=" + Self.hmacHex(body).uppercased()]), "hex in either case")
        XCTAssertEqual(verdict(endpoint(.github, secret: "wrong"), good)?.code, .badSignature, "wrong secret")
        XCTAssertEqual(verdict(endpoint(.github), good, body: body + [0x20])?.code, .badSignature, "tampered body")
        let missing = verdict(endpoint(.github), [:])
        XCTAssertEqual(missing?.field, "X-Hub-Signature-256")
        XCTAssertEqual(missing?.status, 401)
        XCTAssertEqual(verdict(endpoint(.github), ["x-hub-signature-256": "sha1=" + Self.hmacHex(body)])?.code, .badSignature)
        XCTAssertEqual(verdict(endpoint(.github), ["x-hub-signature-256": "sha256=zz"])?.code, .badSignature)
    }

    func testStripeSignaturesWithTheirTimestampTolerance() {
        func header(_ timestamp: Int64, secret: String = Self.secret) -> [String: String] {
            ["stripe-signature": "t=\(timestamp),v1=\(Self.hmacHex(Array("\(timestamp).".utf8) + body, secret: secret)),v0=00"]
        }
        XCTAssertNil(verdict(endpoint(.stripe), header(now - 299)))
        XCTAssertNil(verdict(endpoint(.stripe), ["stripe-signature": "t=\(now),v1=00ff,v1=\(Self.hmacHex(Array("\(now).".utf8) + body))"]),
                     "any v1 may match (secret rotation)")
        let stale = verdict(endpoint(.stripe), header(now - 301))
        XCTAssertEqual(stale?.code, .staleTimestamp)
        XCTAssertEqual(stale?.status, 401)
        XCTAssertTrue(stale?.message.contains("301 s") == true, stale?.message ?? "")
        var lenient = endpoint(.stripe)
        lenient.toleranceSeconds = 600
        XCTAssertNil(verdict(lenient, header(now - 301)))
        XCTAssertEqual(verdict(endpoint(.stripe), header(now, secret: "whsec_other"))?.code, .badSignature, "wrong secret")
        XCTAssertEqual(verdict(endpoint(.stripe), header(now), body: Array(body.dropLast()))?.code, .badSignature, "tampered body")
        XCTAssertEqual(verdict(endpoint(.stripe), ["stripe-signature": "v1=abcd"])?.code, .badSignature, "no timestamp")
        XCTAssertEqual(verdict(endpoint(.stripe), [:])?.field, "Stripe-Signature")
    }

    func testSlackSignaturesWithTheirTimestampTolerance() {
        func headers(_ timestamp: Int64, secret: String = Self.secret) -> [String: String] {
            ["x-slack-request-timestamp": "\(timestamp)", "x-slack-signature": "v0=" + Self.hmacHex(Array("v0:\(timestamp):".utf8) + body, secret: secret)]
        }
        XCTAssertNil(verdict(endpoint(.slack), headers(now + 10)))
        XCTAssertEqual(verdict(endpoint(.slack), headers(now - 3_600))?.code, .staleTimestamp)
        XCTAssertEqual(verdict(endpoint(.slack), headers(now, secret: "nope"))?.code, .badSignature)
        XCTAssertEqual(verdict(endpoint(.slack), headers(now), body: Array("{}".utf8))?.code, .badSignature)
        var noTimestamp = headers(now)
        noTimestamp["x-slack-request-timestamp"] = nil
        XCTAssertEqual(verdict(endpoint(.slack), noTimestamp)?.field, "X-Slack-Request-Timestamp")
        var replayed = headers(now)
        replayed["x-slack-request-timestamp"] = "\(now + 1)"
        XCTAssertEqual(verdict(endpoint(.slack), replayed)?.code, .badSignature, "the timestamp is signed")
    }

    func testGenericHMACWithAConfiguredHeaderEncodingAndPrefix() {
        var hook = endpoint(.hmac)
        hook.signatureHeader = "X-Partner-Signature"
        hook.encoding = .base64
        hook.signaturePrefix = "hmac-sha256 "
        let mac = Data(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(Self.secret.utf8)))).base64EncodedString()
        XCTAssertNil(verdict(hook, ["x-partner-signature": "hmac-sha256 " + mac]))
        XCTAssertEqual(verdict(hook, ["x-partner-signature": mac])?.code, .badSignature, "the prefix is required")
        XCTAssertEqual(verdict(hook, ["x-partner-signature": "hmac-sha256 " + Self.hmacHex(body)])?.code, .badSignature, "hex is not base64 here")
        XCTAssertEqual(verdict(hook, ["x-signature": "hmac-sha256 " + mac])?.field, "X-Partner-Signature", "only the configured header counts")
        XCTAssertNil(verdict(endpoint(.hmac), ["x-signature": Self.hmacHex(body)]), "default: X-Signature, hex, no prefix")
    }

    func testDeliveriesTakeTheirIdAndTypeFromTheSender() throws {
        var github = endpoint(.github)
        github.keyPointer = "/after"
        guard case .event(let push, let deduplicated) = try WebhookDelivery.of(github, headers: ["x-github-event": "push", "x-github-delivery": "d-1", "content-type": "application/json"],
                                                                                 body: body, now: Date()) else { return XCTFail("an event") }
        XCTAssertEqual(push.id, "d-1")
        XCTAssertEqual(push.type, "github.push")
        XCTAssertEqual(push.source, "/webhooks/hook")
        XCTAssertEqual(push.key, Data("abc123".utf8))
        XCTAssertEqual(push.data, Data(body))
        XCTAssertTrue(deduplicated)
        XCTAssertThrowsError(try WebhookDelivery.of(github, headers: ["x-github-event": "push"], body: body, now: Date())) {
            XCTAssertEqual(($0 as? HTTPIngestError)?.field, "X-GitHub-Delivery")
        }
        guard case .event(let payment, _) = try WebhookDelivery.of(endpoint(.stripe), headers: [:], body: body, now: Date()) else { return XCTFail("an event") }
        XCTAssertEqual(payment.id, "evt_1")
        XCTAssertEqual(payment.type, "stripe.payment_intent.succeeded")
        guard case .challenge(let challenge) = try WebhookDelivery.of(endpoint(.slack), headers: [:], body: Array(#"{"type":"url_verification","challenge":"c-9"}"#.utf8), now: Date())
        else { return XCTFail("Slack's endpoint check is answered, not stored") }
        XCTAssertEqual(challenge, "c-9")
        XCTAssertEqual(WebhookDelivery.value(at: "/a~1b/1", in: ["a/b": [0, 7]]), "7")
    }

    func testTheWebhooksFileIsCheckedAtStartAndNeverShowsTheSecret() throws {
        let file = NSTemporaryDirectory() + "ganglion-secret-" + UUID().uuidString
        try Data("s3cret\n".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let json = #"{"gh": {"topic": "ci.pushes", "scheme": "github", "secretEnv": "GH_SECRET", "key": "/after"}, "pay": {"topic": "p", "scheme": "stripe", "secretFile": "\#(file)", "toleranceSeconds": 60}}"#
        let hooks = try WebhookConfiguration.parse(Data(json.utf8), environment: ["GH_SECRET": "from-env"])
        XCTAssertEqual(hooks["gh"]?.secret.bytes, Array("from-env".utf8))
        XCTAssertEqual(hooks["pay"]?.secret.bytes, Array("s3cret".utf8), "a trailing newline is not part of the secret")
        XCTAssertEqual(hooks["pay"]?.toleranceSeconds, 60)
        XCTAssertFalse("\(hooks)".contains("s3cret") || "\(hooks)".contains("from-env"), "secrets print as <redacted>")
        let refusals: [(String, String)] = [
            (#"{"gh": {"topic": "t", "scheme": "github", "secretEnv": "MISSING"}}"#, "MISSING"),
            (#"{"gh": {"topic": "t", "scheme": "gitlab", "secretEnv": "GH_SECRET"}}"#, "scheme"),
            (#"{"gh": {"scheme": "github", "secretEnv": "GH_SECRET"}}"#, "no topic"),
            (#"{"gh": {"topic": "t", "scheme": "github"}}"#, "exactly one"),
            (#"{"gh": {"topic": "t", "scheme": "github", "secretEnv": "GH_SECRET", "secretenv": "x"}}"#, "unknown key \"secretenv\""),
            (#"{"gh": {"topic": "t", "scheme": "github", "secretEnv": "GH_SECRET", "signatureHeader": "X"}}"#, "hmac scheme only"),
            (#"{"a/b": {"topic": "t", "scheme": "github", "secretEnv": "GH_SECRET"}}"#, "path segment"),
            (#"["gh"]"#, "JSON object"),
        ]
        for (json, words) in refusals {
            XCTAssertThrowsError(try WebhookConfiguration.parse(Data(json.utf8), environment: ["GH_SECRET": "x"]), json) {
                XCTAssertTrue("\($0)".contains(words), "\($0)")
            }
        }
    }

    func testRecentDeliveriesAreBoundedInCountAndTime() {
        let recent = WebhookDeliveries(capacity: 3, windowSeconds: 60)
        let location = StoredEvent(id: "a", partition: 0, offset: 4)
        XCTAssertEqual(recent.claim("a", now: 0), .new)
        XCTAssertEqual(recent.claim("a", now: 1), .pending, "a concurrent duplicate waits for the first")
        recent.complete("a", at: location, now: 1)
        XCTAssertEqual(recent.claim("a", now: 2), .stored(location))
        XCTAssertEqual(recent.claim("b", now: 2), .new)
        recent.release("b")
        XCTAssertEqual(recent.claim("b", now: 3), .new, "a failed store is retried")
        for id in ["c", "d", "e"] {
            XCTAssertEqual(recent.claim(id, now: 4), .new)
            recent.complete(id, at: location, now: 4)
        }
        XCTAssertEqual(recent.count, 3)
        XCTAssertEqual(recent.claim("a", now: 5), .new, "the oldest was forgotten past the capacity")
        XCTAssertEqual(recent.claim("e", now: 5 + 61), .new, "forgotten after the window")
        recent.seedOnce(now: 70) { ["seeded"] }
        recent.seedOnce(now: 70) { XCTFail("seeded once"); return [] }
        XCTAssertEqual(recent.claim("seeded", now: 71), .stored(nil))
    }
}
