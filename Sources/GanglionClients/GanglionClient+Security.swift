import ClusterCore
import GanglionWire

/// The cluster's security records: ACLs, principals (with their CURVE public keys) and HTTP
/// bearer tokens. Changes are applied by the controller leader (any node forwards them) and
/// reach every node's metadata; a refusal is a ``GanglionError`` whose message starts with the
/// ``SecurityError`` code (`unknown_principal: …`).
extension GanglionClient {
    /// Adds an ACL (refused when it exists).
    public func addAcl(_ binding: AclBinding) async throws {
        var request = Ganglion_V1_SecurityRequest()
        request.addAcl = binding.wire
        _ = try await security(request)
    }

    /// Removes an ACL (refused when there is no such binding).
    public func removeAcl(_ binding: AclBinding) async throws {
        var request = Ganglion_V1_SecurityRequest()
        request.removeAcl = binding.wire
        _ = try await security(request)
    }

    /// The ACLs, sorted, narrowed to those naming exactly `principal`, of `resourceType`, or with
    /// exactly `resourceName` (nil: any).
    public func listAcls(principal: String? = nil, resourceType: AclResourceType? = nil, resourceName: String? = nil) async throws -> [AclBinding] {
        var filter = Ganglion_V1_AclFilter()
        filter.principal = principal ?? ""
        filter.resourceType = resourceType.flatMap { .init(rawValue: $0.wireNumber) } ?? .unspecified
        filter.resourceName = resourceName ?? ""
        var request = Ganglion_V1_SecurityRequest()
        request.listAcls = filter
        return try await security(request).acls.compactMap(AclBinding.init(wire:))
    }

    /// Adds a principal that authenticates with the CURVE public key `publicKey` (40 Z85 characters).
    public func addPrincipal(_ name: String, publicKey: String) async throws {
        var principal = Ganglion_V1_SecurityPrincipal()
        principal.name = name
        principal.publicKey = publicKey
        var request = Ganglion_V1_SecurityRequest()
        request.addPrincipal = principal
        _ = try await security(request)
    }

    /// Removes a principal and revokes its tokens (its ACLs stay).
    public func removePrincipal(_ name: String) async throws {
        var request = Ganglion_V1_SecurityRequest()
        request.removePrincipal = name
        _ = try await security(request)
    }

    /// The principals' public keys, by principal name.
    public func listPrincipals() async throws -> [String: String] {
        var request = Ganglion_V1_SecurityRequest()
        request.listPrincipals = Ganglion_V1_ListPrincipalsRequest()
        return Dictionary(try await security(request).principals.map { ($0.name, $0.publicKey) }, uniquingKeysWith: { first, _ in first })
    }

    /// Creates an HTTP bearer token for `principal`; returns its id and its secret, which the
    /// cluster does not keep (only its hash) and never shows again.
    public func createToken(principal: String, description: String? = nil) async throws -> (id: String, secret: String) {
        var create = Ganglion_V1_CreateTokenRequest()
        create.principal = principal
        create.description_p = description ?? ""
        var request = Ganglion_V1_SecurityRequest()
        request.createToken = create
        let response = try await security(request)
        guard let token = response.tokens.first, !response.tokenSecret.isEmpty else {
            throw GanglionError(code: .internal, message: "the node created a token but sent no id or secret")
        }
        return (token.id, response.tokenSecret)
    }

    /// Revokes an HTTP token by id.
    public func revokeToken(_ id: String) async throws {
        var request = Ganglion_V1_SecurityRequest()
        request.revokeToken = id
        _ = try await security(request)
    }

    /// The HTTP tokens (id, principal, creation time, description; never the secret), by id.
    public func listTokens() async throws -> [Ganglion_V1_HttpToken] {
        var request = Ganglion_V1_SecurityRequest()
        request.listTokens = Ganglion_V1_ListTokensRequest()
        return try await security(request).tokens
    }

    private func security(_ request: Ganglion_V1_SecurityRequest) async throws -> Ganglion_V1_SecurityResponse {
        try await call(.security, request, reply: Ganglion_V1_SecurityResponse.self).0
    }
}

// The node's side of this mapping is ClusterRuntime's SecurityWire.swift (the client does not link the node).
extension AclBinding {
    /// A binding as the node sent it (nil if it names a type or operation this client does not know).
    init?(wire: Ganglion_V1_AclBinding) {
        guard let type = AclResourceType(wireNumber: wire.resourceType.rawValue),
              let operation = AclOperation(wireNumber: wire.operation.rawValue) else { return nil }
        self.init(principal: wire.principal, resourceType: type, patternType: AclPatternType(wireNumber: wire.patternType.rawValue) ?? .literal,
                  resourceName: wire.resourceName, operation: operation,
                  permission: AclPermission(wireNumber: wire.permission.rawValue) ?? .allow)
    }

    /// The binding on the wire.
    var wire: Ganglion_V1_AclBinding {
        var wire = Ganglion_V1_AclBinding()
        wire.principal = principal
        wire.resourceType = .init(rawValue: resourceType.wireNumber) ?? .unspecified
        wire.patternType = .init(rawValue: patternType.wireNumber) ?? .unspecified
        wire.resourceName = resourceName
        wire.operation = .init(rawValue: operation.wireNumber) ?? .unspecified
        wire.permission = .init(rawValue: permission.wireNumber) ?? .unspecified
        return wire
    }
}
