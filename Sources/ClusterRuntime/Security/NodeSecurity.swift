import ZeroMQ

/// A node's security settings: when present, every socket of the node speaks CurveZMQ, every
/// connecting peer is checked against the allow-list (a ZAP handler on the node's context), and
/// every request is checked against the ACLs as the principal its key belongs to.
///
/// All nodes of a cluster share one key pair, the cluster key: they serve with it (so a client
/// needs one server key, whichever node it reaches) and connect to each other with it, as the
/// principal ``nodePrincipal`` — a super user, which is why a node's key must never leave the
/// nodes. Other principals are the ones named in ``superUsers`` (bootstrap administrators, from
/// configuration) and the ones added to the replicated metadata (`ganglion security principal add`).
public struct NodeSecurity: Sendable {
    /// The principal of the cluster key: the nodes themselves.
    public static let nodePrincipal = "node"
    /// The ZAP domain of the node's server sockets.
    public static let zapDomain = "ganglion"

    /// The cluster key pair.
    public var clusterKeys: CurveKeyPair
    /// Principals allowed everything, by name, with their public keys (e.g. `admin`).
    public var superUsers: [String: CurveKey]

    /// Settings with the cluster key pair and the bootstrap super users.
    public init(clusterKeys: CurveKeyPair, superUsers: [String: CurveKey] = [:]) {
        self.clusterKeys = clusterKeys
        self.superUsers = superUsers
    }

    /// What the node's ROUTER and PUB sockets are set up with.
    var serverCredentials: CurveServerCredentials { CurveServerCredentials(keys: clusterKeys, zapDomain: Self.zapDomain) }

    /// What the node presents to other nodes (and its own in-process clients, e.g. agents).
    public var nodeCredentials: CurveClientCredentials { CurveClientCredentials(keys: clusterKeys, serverKey: clusterKeys.publicKey) }

    /// The names of the super users, the nodes included.
    var superUserNames: Set<String> { Set(superUsers.keys).union([Self.nodePrincipal]) }
}
