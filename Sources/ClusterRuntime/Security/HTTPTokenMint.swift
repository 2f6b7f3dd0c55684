import Foundation

/// Makes HTTP bearer tokens: a secret of 32 random bytes (`gt_` and their base64url), of which
/// the metadata keeps only the hash (``HTTPTokenSecret/hash(_:)``), and a random id that names
/// the token in lists and revocations.
enum HTTPTokenMint {
    /// Every secret starts with this (so a leaked one is recognisable to secret scanners).
    static let prefix = "gt_"

    /// A new secret: `gt_` and 32 random bytes in base64url without padding.
    static func secret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// A new token id: `tok-` and 16 random hex digits (not secret).
    static func id() -> String {
        var generator = SystemRandomNumberGenerator()
        return "tok-" + String(format: "%016llx", UInt64.random(in: .min ... .max, using: &generator))
    }
}
