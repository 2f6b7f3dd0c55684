import ClusterCore
import GanglionWire

/// The security model's values as security.proto carries them (the enums by ``AclWireNumbered``).
/// The client's side of this mapping is in GanglionClient+Security.swift (the node does not link the client).
extension AclBinding {
    /// The binding a request names; throws MALFORMED_REQUEST naming the missing field. An unset
    /// pattern is literal, an unset permission allow.
    init(wire: Ganglion_V1_AclBinding) throws {
        guard let type = AclResourceType(wireNumber: wire.resourceType.rawValue) else {
            throw ProtocolFailure(.malformedRequest, "the ACL has no resource type (topic, group, subject or cluster)")
        }
        guard let operation = AclOperation(wireNumber: wire.operation.rawValue) else {
            throw ProtocolFailure(.malformedRequest, "the ACL has no operation (read, write, create, delete, alter, describe or all)")
        }
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

extension Ganglion_V1_SecurityRequest {
    /// Whether the request changes the security records (served by the controller leader); lists
    /// are served by any node from its metadata.
    var isChange: Bool {
        switch operation {
        case .addAcl, .removeAcl, .addPrincipal, .removePrincipal, .createToken, .revokeToken: true
        case .listAcls, .listPrincipals, .listTokens, nil: false
        }
    }
}
