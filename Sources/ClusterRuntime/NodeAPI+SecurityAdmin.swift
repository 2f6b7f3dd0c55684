import ClusterCore
import Foundation
import GanglionWire

/// The security requests: each change becomes one metadata record, validated by
/// ``SecurityState`` and answered once committed (a refusal is INVALID_CONFIG with the
/// ``SecurityError`` code first in the message); lists read the applied metadata. A token's
/// secret is made here, on the controller leader, returned once, and only its hash recorded.
extension NodeAPI {
    /// Adds or removes an ACL, a principal or a token.
    func changeSecurity(_ request: Ganglion_V1_SecurityRequest,
                        completion: @escaping @Sendable (Result<Ganglion_V1_SecurityResponse, any Error>) -> Void) {
        var response = Ganglion_V1_SecurityResponse()
        let record: MetadataRecord
        // A configured super user becomes a principal of the metadata with its first token (a
        // token names a principal of the metadata; the super user's key is in the configuration).
        var prelude: MetadataRecord?
        do {
            switch request.operation {
            case .addAcl(let wire):
                let binding = try AclBinding(wire: wire)
                record = .aclAdded(binding)
                response.acls = [binding.wire]
            case .removeAcl(let wire):
                let binding = try AclBinding(wire: wire)
                record = .aclRemoved(binding)
                response.acls = [binding.wire]
            case .addPrincipal(let principal):
                record = .principalAdded(name: principal.name, publicKey: principal.publicKey)
                response.principals = [principal]
            case .removePrincipal(let name):
                record = .principalRemoved(name: name)
                var principal = Ganglion_V1_SecurityPrincipal()
                principal.name = name
                response.principals = [principal]
            case .createToken(let create):
                let id = HTTPTokenMint.id(), secret = HTTPTokenMint.secret()
                let token = HTTPToken(principal: create.principal, secretHash: HTTPTokenSecret.hash(secret),
                                      createdAtMilliseconds: Int64(Date().timeIntervalSince1970 * 1000),
                                      description: create.description_p.isEmpty ? nil : create.description_p)
                record = .tokenCreated(id: id, token: token)
                if metadata.state.security.principals[create.principal] == nil, let key = nodeGuard?.security.superUsers[create.principal] {
                    prelude = .principalAdded(name: create.principal, publicKey: key.z85)
                }
                response.tokens = [Self.wire(id: id, token)]
                response.tokenSecret = secret
            case .revokeToken(let id):
                record = .tokenRevoked(id: id)
                var token = Ganglion_V1_HttpToken()
                token.id = id
                response.tokens = [token]
            case .listAcls, .listPrincipals, .listTokens, nil:
                throw ProtocolFailure(.malformedRequest, "the security request names no change")
            }
        } catch {
            return DispatchQueue.global().async { completion(.failure(error)) }
        }
        let answer = response, metadata = self.metadata
        let commitRecord: @Sendable () -> Void = {
            metadata.commit(deciding: { _ in record }) { result in
                completion(result.map { _ in answer }.mapError(Self.metadataFailure))
            }
        }
        guard let prelude else { return commitRecord() }
        metadata.commit(deciding: { _ in prelude }) { result in
            if case .failure(let error) = result { return completion(.failure(Self.metadataFailure(error))) }
            commitRecord()
        }
    }

    /// The ACLs (matching the filter), principals or tokens this node's metadata holds, sorted.
    func listSecurity(_ request: Ganglion_V1_SecurityRequest) throws -> Ganglion_V1_SecurityResponse {
        let security = metadata.state.security
        var response = Ganglion_V1_SecurityResponse()
        switch request.operation {
        case .listAcls(let filter):
            let type = AclResourceType(wireNumber: filter.resourceType.rawValue)
            response.acls = security.acls.filter { binding in
                (filter.principal.isEmpty || binding.principal == filter.principal) && (type == nil || binding.resourceType == type)
                    && (filter.resourceName.isEmpty || binding.resourceName == filter.resourceName)
            }.map(\.wire)
        case .listPrincipals:
            response.principals = security.principals.sorted { $0.key < $1.key }.map { name, key in
                var principal = Ganglion_V1_SecurityPrincipal()
                principal.name = name
                principal.publicKey = key
                return principal
            }
        case .listTokens:
            response.tokens = security.tokens.sorted { $0.key < $1.key }.map { Self.wire(id: $0.key, $0.value) }
        default:
            throw ProtocolFailure(.malformedRequest, "the security request names no list")
        }
        return response
    }

    /// A token as listed: never its hash.
    private static func wire(id: String, _ token: HTTPToken) -> Ganglion_V1_HttpToken {
        var wire = Ganglion_V1_HttpToken()
        wire.id = id
        wire.principal = token.principal
        wire.createdAtMs = token.createdAtMilliseconds
        wire.description_p = token.description ?? ""
        return wire
    }
}
