import ClusterCore
import Crypto
import Foundation

/// The secrets of HTTP bearer tokens: made from 32 random bytes (`gt_` and their base64url), of
/// which the metadata keeps only the SHA-256, so neither the log nor a snapshot holds a usable
/// credential. A node checks a presented secret by hashing it and comparing the hash with each
/// token's in constant time (``SecurityState/principal(forTokenSecret:)``).
enum HTTPTokenSecret {
    /// Every secret starts with this (so a leaked one is recognisable to secret scanners).
    static let prefix = "gt_"

    /// A new secret: `gt_` and 32 random bytes in base64url without padding.
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// A new token id: `tok-` and 16 random hex digits (not secret: it names the token in lists).
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "tok-" + String(format: "%016llx", UInt64.random(in: .min ... .max, using: &generator))
    }

    /// The SHA-256 of `secret`'s UTF-8, as 64 lowercase hex digits (what the metadata records).
    static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

extension SecurityState {
    /// The principal that the bearer token `secret` authenticates as, or nil (unknown or revoked).
    func principal(forTokenSecret secret: String) -> String? {
        principal(forTokenHash: HTTPTokenSecret.hash(secret))
    }
}
