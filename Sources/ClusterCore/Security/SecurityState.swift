/// Who may do what, as the replicated metadata records it: the ACLs, the principals with their
/// CURVE public keys (the allow-list the ZAP handler checks), and the HTTP bearer tokens (hashed).
/// Changes arrive as metadata records, are checked with ``validate(_:)`` before they are appended
/// and applied in log order with ``apply(_:)``, so every node holds the same state.
public struct SecurityState: Sendable, Hashable, Codable {
    /// The ACLs, sorted (see ``AclBinding/<(_:_:)``), without duplicates.
    public private(set) var acls: [AclBinding] = []
    /// The principals' CURVE public keys (40 Z85 characters), by principal name.
    public private(set) var principals: [String: String] = [:]
    /// The HTTP bearer tokens, by token id.
    public private(set) var tokens: [String: HTTPToken] = [:]

    /// The most ACLs the cluster keeps.
    public static let maxAcls = 10_000
    /// The most principals the cluster keeps.
    public static let maxPrincipals = 10_000
    /// The most tokens the cluster keeps (a token lookup compares against each).
    public static let maxTokens = 1_000

    /// An empty state: no ACLs, no principals, no tokens.
    public init() {}

    /// Whether `record` may be applied now; the error names what is wrong. Records that are not
    /// about security pass.
    public func validate(_ record: MetadataRecord) throws(SecurityError) {
        switch record {
        case .aclAdded(let binding):
            try Self.check(binding)
            guard index(of: binding).found == false else { throw SecurityError(.aclExists, "the ACL \"\(binding)\" exists") }
            guard acls.count < Self.maxAcls else { throw SecurityError(.limitReached, "the cluster holds \(Self.maxAcls) ACLs, the most it keeps; remove some first") }
        case .aclRemoved(let binding):
            guard index(of: binding).found else { throw SecurityError(.unknownAcl, "no ACL \"\(binding)\" to remove (list them with `ganglion acl list`)") }
        case .principalAdded(let name, let publicKey):
            try Self.checkPrincipal(name)
            try Self.checkPublicKey(publicKey)
            guard principals[name] == nil else { throw SecurityError(.principalExists, "principal \(name) exists; remove it first to change its key") }
            if let owner = principals.first(where: { $0.value == publicKey })?.key {
                throw SecurityError(.publicKeyInUse, "the public key is principal \(owner)'s; every principal needs its own key pair")
            }
            guard principals.count < Self.maxPrincipals else { throw SecurityError(.limitReached, "the cluster holds \(Self.maxPrincipals) principals, the most it keeps") }
        case .principalRemoved(let name):
            guard principals[name] != nil else { throw SecurityError(.unknownPrincipal, "no principal \(name) to remove") }
        case .tokenCreated(let id, let token):
            try Self.checkTokenID(id)
            guard principals[token.principal] != nil else {
                throw SecurityError(.unknownPrincipal, "no principal \(token.principal) to issue a token to; add it first with `ganglion security principal add`")
            }
            guard token.secretHash.utf8.count == 64, token.secretHash.utf8.allSatisfy(Self.isLowercaseHex) else {
                throw SecurityError(.invalidToken, "token \(id): the secret's hash must be 64 lowercase hex digits (SHA-256)")
            }
            if let description = token.description, description.utf8.count > HTTPToken.maxDescriptionBytes {
                throw SecurityError(.invalidToken, "token \(id): the description is longer than \(HTTPToken.maxDescriptionBytes) bytes")
            }
            guard tokens[id] == nil else { throw SecurityError(.tokenExists, "token \(id) exists") }
            guard tokens.count < Self.maxTokens else { throw SecurityError(.limitReached, "the cluster holds \(Self.maxTokens) tokens, the most it keeps; revoke some first") }
        case .tokenRevoked(let id):
            guard tokens[id] != nil else { throw SecurityError(.unknownToken, "no token \(id) to revoke (list them with `ganglion security token list`)") }
        default:
            return
        }
    }

    /// Applies a security record; one that does not validate now (replayed twice) is ignored.
    /// Removing a principal also removes its tokens (its ACLs stay: they may name it again later).
    public mutating func apply(_ record: MetadataRecord) {
        guard (try? validate(record)) != nil else { return }
        switch record {
        case .aclAdded(let binding): acls.insert(binding, at: index(of: binding).position)
        case .aclRemoved(let binding): acls.remove(at: index(of: binding).position)
        case .principalAdded(let name, let publicKey): principals[name] = publicKey
        case .principalRemoved(let name):
            principals[name] = nil
            tokens = tokens.filter { $0.value.principal != name }
        case .tokenCreated(let id, let token): tokens[id] = token
        case .tokenRevoked(let id): tokens[id] = nil
        default: return
        }
    }

    /// The principal whose token has the secret hash `hash` (64 hex digits), or nil. Every
    /// token is compared, in constant time, so the time taken tells nothing about the tokens.
    public func principal(forTokenHash hash: String) -> String? {
        var found: String?
        for token in tokens.values where token.matches(secretHash: hash) { found = token.principal }
        return found
    }

    /// Where `binding` is in the sorted ``acls``, or would go.
    private func index(of binding: AclBinding) -> (found: Bool, position: Int) {
        var low = 0, high = acls.count
        while low < high {
            let middle = (low + high) / 2
            if acls[middle] < binding { low = middle + 1 } else { high = middle }
        }
        return (low < acls.count && acls[low] == binding, low)
    }
}
