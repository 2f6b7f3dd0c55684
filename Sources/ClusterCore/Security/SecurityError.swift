/// Why a security change (an ACL, a principal, a token) was refused.
public struct SecurityError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of refusal.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// A principal name breaks the naming rules (1–64 of `A–Z a–z 0–9 . _ -`).
        case invalidPrincipal = "invalid_principal"
        /// A public key is not 40 characters of Z85.
        case invalidPublicKey = "invalid_public_key"
        /// The public key belongs to another principal.
        case publicKeyInUse = "public_key_in_use"
        /// A principal of this name exists.
        case principalExists = "principal_exists"
        /// No principal of this name.
        case unknownPrincipal = "unknown_principal"
        /// A binding's resource name or pattern is not valid.
        case invalidAcl = "invalid_acl"
        /// The binding exists.
        case aclExists = "acl_exists"
        /// No such binding.
        case unknownAcl = "unknown_acl"
        /// A token's id, hash or description is not valid.
        case invalidToken = "invalid_token"
        /// A token of this id exists.
        case tokenExists = "token_exists"
        /// No token of this id.
        case unknownToken = "unknown_token"
        /// A bound on the number of ACLs, principals or tokens was reached.
        case limitReached = "limit_reached"
    }

    /// What kind of refusal.
    public var code: Code
    /// What is wrong and what to do.
    public var message: String

    /// An error with a code and message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
