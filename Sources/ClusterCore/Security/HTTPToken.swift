/// A bearer token for the node's HTTP surface, as stored in the metadata: only the SHA-256 of
/// its secret is kept, so the metadata log and its snapshots never hold a usable credential.
public struct HTTPToken: Sendable, Hashable, Codable {
    /// The principal the token authenticates as.
    public var principal: String
    /// The SHA-256 of the secret, as 64 lowercase hex digits.
    public var secretHash: String
    /// When it was created (ms since the epoch, the creating node's clock).
    public var createdAtMilliseconds: Int64
    /// What the operator said it is for (nil: nothing).
    public var description: String?

    /// The longest description, in UTF-8 bytes.
    public static let maxDescriptionBytes = 256

    /// A token record.
    public init(principal: String, secretHash: String, createdAtMilliseconds: Int64, description: String? = nil) {
        self.principal = principal
        self.secretHash = secretHash
        self.createdAtMilliseconds = createdAtMilliseconds
        self.description = description
    }

    /// Whether `hash` (64 hex digits) is this token's: compared in constant time, so the time
    /// taken does not tell how much of a guess was right.
    public func matches(secretHash hash: String) -> Bool {
        SecurityState.constantTimeEqual(Array(secretHash.utf8), Array(hash.lowercased().utf8))
    }
}
