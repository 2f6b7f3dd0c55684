/// What an ACL lets a principal do to a resource (Kafka's operations).
public enum AclOperation: String, Sendable, Hashable, Codable, CaseIterable {
    /// Consume a topic, read a group's offsets, read a subject's schemas.
    case read
    /// Produce to a topic, commit a group's offsets, register a subject's schemas.
    case write
    /// Create a topic (or, on the cluster, any topic).
    case create
    /// Delete a topic, a group's offsets, a subject.
    case delete
    /// Change a resource's configuration (and, on the cluster, the ACLs and keys).
    case alter
    /// See that a resource exists and how it is configured; implied by read, write, delete and alter.
    case describe
    /// Every operation.
    case all

    /// The operations an allow binding of this operation also grants: read, write, delete and
    /// alter imply describe, as in Kafka.
    var impliesDescribe: Bool { self == .read || self == .write || self == .delete || self == .alter }
}

/// Whether a binding allows or denies; a matching deny wins over any allow.
public enum AclPermission: String, Sendable, Hashable, Codable, CaseIterable {
    /// Grants the operation.
    case allow
    /// Refuses the operation, whatever else allows it.
    case deny
}

/// The kinds of resource an ACL protects.
public enum AclResourceType: String, Sendable, Hashable, Codable, CaseIterable {
    /// A topic, by name.
    case topic
    /// A consumer group (an agent type), by name.
    case group
    /// A schema registry subject, by name.
    case subject
    /// The cluster itself (topic creation, ACLs, keys, cluster status); bound with the name `*`.
    case cluster
}

/// How a binding's resource name is matched.
public enum AclPatternType: String, Sendable, Hashable, Codable, CaseIterable {
    /// The name exactly; the name `*` matches every resource of the type.
    case literal
    /// Every name starting with the binding's name.
    case prefix
}

/// One ACL: `principal` is `permission`ed to perform `operation` on the resources of
/// `resourceType` whose names match `resourceName` under `patternType`.
public struct AclBinding: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// The principal's name, or `*` for every principal.
    public var principal: String
    /// The kind of resource.
    public var resourceType: AclResourceType
    /// How `resourceName` is matched.
    public var patternType: AclPatternType
    /// The resource's name, its prefix, or (literal) `*` for every resource of the type.
    public var resourceName: String
    /// The operation granted or refused.
    public var operation: AclOperation
    /// Allow or deny.
    public var permission: AclPermission

    /// The principal name in a binding that matches every principal.
    public static let anyPrincipal = "*"
    /// The literal resource name that matches every resource of its type (and the name of the cluster).
    public static let anyResource = "*"
    /// The longest resource name or prefix, in UTF-8 bytes (a topic name's bound).
    public static let maxResourceNameBytes = 249

    /// A binding; `permission` defaults to allow and `patternType` to literal.
    public init(principal: String, resourceType: AclResourceType, patternType: AclPatternType = .literal, resourceName: String,
                operation: AclOperation, permission: AclPermission = .allow) {
        self.principal = principal
        self.resourceType = resourceType
        self.patternType = patternType
        self.resourceName = resourceName
        self.operation = operation
        self.permission = permission
    }

    /// A binding on the cluster resource (its name is always `*`).
    public static func cluster(principal: String, operation: AclOperation, permission: AclPermission = .allow) -> AclBinding {
        AclBinding(principal: principal, resourceType: .cluster, resourceName: anyResource, operation: operation, permission: permission)
    }

    /// Whether the binding names `principal` (or every principal).
    public func matches(principal name: String) -> Bool { principal == Self.anyPrincipal || principal == name }

    /// Whether the binding's pattern covers the resource `name` of its type.
    public func matches(resourceName name: String) -> Bool {
        switch patternType {
        case .literal: resourceName == Self.anyResource || resourceName == name
        case .prefix: name.utf8.starts(with: resourceName.utf8)
        }
    }

    /// `allow alice read topic:orders` / `deny * write topic:pay*`.
    public var description: String {
        "\(permission.rawValue) \(principal) \(operation.rawValue) \(resourceType.rawValue):\(resourceName)\(patternType == .prefix ? "*" : "")"
    }

    /// Bindings sort by resource, then principal, then operation and permission (a stable listing).
    public static func < (lhs: AclBinding, rhs: AclBinding) -> Bool {
        (lhs.resourceType.rawValue, lhs.resourceName, lhs.patternType.rawValue, lhs.principal, lhs.operation.rawValue, lhs.permission.rawValue)
            < (rhs.resourceType.rawValue, rhs.resourceName, rhs.patternType.rawValue, rhs.principal, rhs.operation.rawValue, rhs.permission.rawValue)
    }
}
