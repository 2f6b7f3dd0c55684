/// The naming and format rules of principals, keys, bindings and tokens.
extension SecurityState {
    /// The longest principal name.
    public static let maxPrincipalLength = 64
    /// The Z85 alphabet (ZeroMQ RFC 32), in which CURVE keys are written.
    public static let z85Alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// A principal name: 1–64 characters of `A–Z a–z 0–9 . _ -` (`*` is only for bindings).
    public static func checkPrincipal(_ name: String) throws(SecurityError) {
        guard !name.isEmpty, name.utf8.count <= maxPrincipalLength, name.utf8.allSatisfy(isNameByte) else {
            throw SecurityError(.invalidPrincipal,
                                "principal name \"\(name)\" must be 1–\(maxPrincipalLength) characters of A–Z, a–z, 0–9, '.', '_' or '-'")
        }
    }

    /// A CURVE public key: 40 characters of Z85 (32 bytes).
    public static func checkPublicKey(_ key: String) throws(SecurityError) {
        guard key.utf8.count == 40, key.utf8.allSatisfy({ z85Alphabet.contains($0) }) else {
            throw SecurityError(.invalidPublicKey,
                                "a public key must be 40 Z85 characters (as `ganglion security keygen` writes), got \(key.utf8.count) characters")
        }
    }

    /// A binding: its principal a name or `*`, its resource name 1–249 bytes without control
    /// characters, a prefix not `*`, and the cluster bound by the literal name `*`.
    public static func check(_ binding: AclBinding) throws(SecurityError) {
        if binding.principal != AclBinding.anyPrincipal {
            do { try checkPrincipal(binding.principal) } catch {
                throw SecurityError(.invalidPrincipal, error.message + ", or * for every principal")
            }
        }
        let name = binding.resourceName
        guard !name.isEmpty, name.utf8.count <= AclBinding.maxResourceNameBytes, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw SecurityError(.invalidAcl, "\(binding.resourceType.rawValue) name \"\(name)\" must be 1–\(AclBinding.maxResourceNameBytes) bytes without control characters")
        }
        if binding.patternType == .prefix, name == AclBinding.anyResource {
            throw SecurityError(.invalidAcl, "the prefix * is not a pattern: use the literal name * to match every \(binding.resourceType.rawValue)")
        }
        if binding.resourceType == .cluster, binding.patternType != .literal || name != AclBinding.anyResource {
            throw SecurityError(.invalidAcl, "the cluster resource has the literal name *, got \(binding.patternType.rawValue) \"\(name)\"")
        }
    }

    /// A token id: the principal naming rules (1–64 of `A–Z a–z 0–9 . _ -`).
    public static func checkTokenID(_ id: String) throws(SecurityError) {
        guard !id.isEmpty, id.utf8.count <= maxPrincipalLength, id.utf8.allSatisfy(isNameByte) else {
            throw SecurityError(.invalidToken, "token id \"\(id)\" must be 1–\(maxPrincipalLength) characters of A–Z, a–z, 0–9, '.', '_' or '-'")
        }
    }

    /// Whether two byte strings are equal, taking the same time wherever they differ.
    public static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
    }

    static func isLowercaseHex(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }
}
