/// Decides whether a principal may perform an operation on a resource, from a ``SecurityState``,
/// with Kafka's semantics: super users may do everything; otherwise a matching deny refuses, a
/// matching allow grants, and no matching allow refuses. A binding matches when it names the
/// principal (or `*`), the operation (or `all`; an allow of read, write, delete or alter also
/// grants describe), and the resource (its literal name, the literal `*`, or a prefix of it).
///
/// Built once per metadata state and then only read: the bindings are indexed by resource type
/// and literal name, and the principals by public key, so a check never scans every ACL.
public struct Authorizer: Sendable {
    /// The bindings of one resource type, indexed for lookup.
    private struct Index: Sendable {
        var literal: [String: [AclBinding]] = [:]
        var everyName: [AclBinding] = []
        var prefixed: [AclBinding] = []
    }

    private let indexes: [AclResourceType: Index]
    private let principalsByKey: [String: String]
    /// The principals allowed everything, whatever the ACLs say.
    public let superUsers: Set<String>

    /// An authorizer over `state`'s ACLs and principals, with `superUsers` allowed everything
    /// (a cluster's own nodes, the operator's admin principal).
    public init(state: SecurityState, superUsers: Set<String>) {
        var indexes: [AclResourceType: Index] = [:]
        for binding in state.acls {
            switch binding.patternType {
            case .literal where binding.resourceName == AclBinding.anyResource: indexes[binding.resourceType, default: Index()].everyName.append(binding)
            case .literal: indexes[binding.resourceType, default: Index()].literal[binding.resourceName, default: []].append(binding)
            case .prefix: indexes[binding.resourceType, default: Index()].prefixed.append(binding)
            }
        }
        self.indexes = indexes
        var principalsByKey: [String: String] = [:]
        for (name, key) in state.principals { principalsByKey[key] = name }
        self.principalsByKey = principalsByKey
        self.superUsers = superUsers
    }

    /// Whether `principal` may perform `operation` on the resource of `resourceType` named `name`
    /// (for the cluster, any name: its bindings have the name `*`).
    public func authorize(principal: String, operation: AclOperation, resourceType: AclResourceType, name: String) -> Bool {
        if superUsers.contains(principal) { return true }
        guard let index = indexes[resourceType] else { return false }
        var allowed = false
        for bindings in [index.literal[name] ?? [], index.everyName, index.prefixed] {
            for binding in bindings where binding.matches(principal: principal) && binding.matches(resourceName: name) {
                switch binding.permission {
                case .deny:
                    // A deny refuses exactly its operation (or every one): denying read does not deny describe.
                    if binding.operation == operation || binding.operation == .all { return false }
                case .allow:
                    if binding.operation == operation || binding.operation == .all
                        || (operation == .describe && binding.operation.impliesDescribe) {
                        allowed = true
                    }
                }
            }
        }
        return allowed
    }

    /// The principal whose CURVE public key is `z85` (40 Z85 characters), or nil: the ZAP
    /// handler's allow-list.
    public func principal(forPublicKey z85: String) -> String? { principalsByKey[z85] }
}
