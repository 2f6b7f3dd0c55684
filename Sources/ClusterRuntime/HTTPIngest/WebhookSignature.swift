import Crypto
import Foundation

/// Checks a delivery's signature under its webhook's scheme: HMAC-SHA256 from swift-crypto,
/// compared in constant time (`isValidAuthenticationCode`). Pure: the headers (lower-cased
/// names), the raw body and the time come in; nothing but the verdict goes out. A timestamp is
/// checked only after the signature matched, so a forger learns nothing from which check failed.
enum WebhookSignature {
    /// Returns when the delivery is authentic; throws ``HTTPIngestError/Code/badSignature`` or
    /// ``HTTPIngestError/Code/staleTimestamp`` naming the header otherwise.
    static func verify(_ endpoint: WebhookEndpoint, headers: [String: String], body: [UInt8], now: Int64) throws {
        let key = SymmetricKey(data: endpoint.secret.bytes)
        switch endpoint.scheme {
        case .github:
            let header = "X-Hub-Signature-256"
            let value = try required(header, in: headers)
            guard value.hasPrefix("sha256="), let mac = hex(value.dropFirst(7)) else {
                throw HTTPIngestError(.badSignature, field: header, "\(header) must be sha256=<64 hex digits>")
            }
            try check(mac, over: body, key: key, header: header, endpoint: endpoint)
        case .stripe:
            let header = "Stripe-Signature"
            let value = try required(header, in: headers)
            var timestamp: String?
            var candidates: [[UInt8]] = []
            for part in value.split(separator: ",") {
                let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pair.count == 2 else { continue }
                if pair[0] == "t" { timestamp = pair[1] }
                if pair[0] == "v1", let mac = hex(Substring(pair[1])) { candidates.append(mac) }
            }
            guard let timestamp, let seconds = Int64(timestamp), !candidates.isEmpty else {
                throw HTTPIngestError(.badSignature, field: header, "\(header) must be t=<unix time>,v1=<hex signature>")
            }
            let signed = Array("\(timestamp).".utf8) + body
            guard candidates.contains(where: { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: signed, using: key) }) else {
                throw mismatch(header, endpoint)
            }
            try fresh(seconds, now: now, endpoint: endpoint, header: header)
        case .slack:
            let timestampHeader = "X-Slack-Request-Timestamp", header = "X-Slack-Signature"
            let timestamp = try required(timestampHeader, in: headers)
            guard let seconds = Int64(timestamp) else { throw HTTPIngestError(.badSignature, field: timestampHeader, "\(timestampHeader) must be a unix time in seconds") }
            let value = try required(header, in: headers)
            guard value.hasPrefix("v0="), let mac = hex(value.dropFirst(3)) else {
                throw HTTPIngestError(.badSignature, field: header, "\(header) must be v0=<64 hex digits>")
            }
            try check(mac, over: Array("v0:\(timestamp):".utf8) + body, key: key, header: header, endpoint: endpoint)
            try fresh(seconds, now: now, endpoint: endpoint, header: timestampHeader)
        case .hmac:
            let header = endpoint.signatureHeader
            let value = try required(header, in: headers)
            guard value.hasPrefix(endpoint.signaturePrefix) else {
                throw HTTPIngestError(.badSignature, field: header, "\(header) must start with \(endpoint.signaturePrefix)")
            }
            let encoded = value.dropFirst(endpoint.signaturePrefix.count)
            let mac: [UInt8]? = switch endpoint.encoding {
            case .hex: hex(encoded)
            case .base64: Data(base64Encoded: String(encoded)).map(Array.init)
            }
            guard let mac else { throw HTTPIngestError(.badSignature, field: header, "\(header) is not \(endpoint.encoding.rawValue)-encoded") }
            try check(mac, over: body, key: key, header: header, endpoint: endpoint)
        }
    }

    private static func required(_ header: String, in headers: [String: String]) throws -> String {
        guard let value = headers[header.lowercased()], !value.isEmpty else {
            throw HTTPIngestError(.badSignature, field: header, "the delivery has no \(header) header; it cannot be authenticated")
        }
        return value
    }

    private static func check(_ mac: [UInt8], over data: [UInt8], key: SymmetricKey, header: String, endpoint: WebhookEndpoint) throws {
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: data, using: key) else { throw mismatch(header, endpoint) }
    }

    private static func mismatch(_ header: String, _ endpoint: WebhookEndpoint) -> HTTPIngestError {
        HTTPIngestError(.badSignature, field: header,
                        "\(header) does not match the body signed with webhook \(endpoint.name)'s secret (wrong secret, or the body was changed)")
    }

    private static func fresh(_ seconds: Int64, now: Int64, endpoint: WebhookEndpoint, header: String) throws {
        let skew = seconds > now ? seconds - now : now - seconds
        guard skew <= Int64(endpoint.toleranceSeconds) else {
            throw HTTPIngestError(.staleTimestamp, field: header,
                                  "the signed timestamp \(seconds) is \(skew) s from the node's clock; webhook \(endpoint.name) accepts at most \(endpoint.toleranceSeconds) s (a replay, or a clock to fix)")
        }
    }

    /// The bytes of a hexadecimal string (either case), or nil.
    static func hex(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard !digits.isEmpty, digits.count % 2 == 0, digits.count <= 256 else { return nil }
        func nibble(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x61...0x66: byte - 0x61 + 10
            case 0x41...0x46: byte - 0x41 + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
