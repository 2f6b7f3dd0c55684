import ClusterCore
import GanglionWire

/// The security model's values as security.proto carries them. The wire enums number the
/// model's cases in declaration order from 1 (0 is "not set").
extension AclBinding {
    /// The binding a request names; throws MALFORMED_REQUEST naming the missing field. An unset
    /// pattern is literal, an unset permission allow.
    init(wire: Ganglion_V1_AclBinding) throws {
        guard let type = AclResourceType(wire: wire.resourceType) else {
            throw ProtocolFailure(.malformedRequest, "the ACL has no resource type (topic, group, subject or cluster)")
        }
        guard let operation = AclOperation(wire: wire.operation) else {
            throw ProtocolFailure(.malformedRequest, "the ACL has no operation (read, write, create, delete, alter, describe or all)")
        }
        self.init(principal: wire.principal, resourceType: type, patternType: wire.patternType == .prefix ? .prefix : .literal,
                  resourceName: wire.resourceName, operation: operation, permission: wire.permission == .deny ? .deny : .allow)
    }

    /// The binding on the wire.
    var wire: Ganglion_V1_AclBinding {
        var wire = Ganglion_V1_AclBinding()
        wire.principal = principal
        wire.resourceType = resourceType.wire
        wire.patternType = patternType == .prefix ? .prefix : .literal
        wire.resourceName = resourceName
        wire.operation = operation.wire
        wire.permission = permission == .deny ? .deny : .allow
        return wire
    }
}

extension AclResourceType {
    /// The type a wire value names (nil: not set, or unknown).
    init?(wire: Ganglion_V1_AclResourceType) {
        guard (1...Self.allCases.count).contains(wire.rawValue) else { return nil }
        self = Self.allCases[wire.rawValue - 1]
    }

    /// The wire value.
    var wire: Ganglion_V1_AclResourceType { .init(rawValue: Self.allCases.firstIndex(of: self)! + 1) ?? .unspecified }
}

extension AclOperation {
    /// The operation a wire value names (nil: not set, or unknown).
    init?(wire: Ganglion_V1_AclOperation) {
        guard (1...Self.allCases.count).contains(wire.rawValue) else { return nil }
        self = Self.allCases[wire.rawValue - 1]
    }

    /// The wire value.
    var wire: Ganglion_V1_AclOperation { .init(rawValue: Self.allCases.firstIndex(of: self)! + 1) ?? .unspecified }
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
