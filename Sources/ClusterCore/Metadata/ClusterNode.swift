/// A node of the cluster as the metadata records it: who it is, where it is reached, and
/// whether its session is alive.
public struct ClusterNode: Sendable, Hashable, Codable {
    /// Where a node's session stands.
    public enum State: String, Sendable, Hashable, Codable {
        /// Registered, heartbeating.
        case alive
        /// Its session expired (it died, paused or lost its link); it is unfenced when it registers again.
        case fenced
        /// It left gracefully.
        case shutdown
    }

    /// The node's id.
    public var id: String
    /// Chosen at each start of the node's process; a newer incarnation replaces an older one.
    public var incarnation: UInt64
    /// Whether the node is a controller voter.
    public var voter: Bool
    /// The request endpoint (`tcp://host:port`).
    public var api: String
    /// The stream endpoint.
    public var pub: String
    /// The HTTP base URL (empty when the node has none).
    public var http: String
    /// Where its session stands.
    public var state: State

    /// A node record.
    public init(id: String, incarnation: UInt64, voter: Bool, api: String, pub: String, http: String, state: State = .alive) {
        self.id = id
        self.incarnation = incarnation
        self.voter = voter
        self.api = api
        self.pub = pub
        self.http = http
        self.state = state
    }

    /// Whether `other` describes the same session at the same endpoints (a heartbeat that changes nothing).
    public func sameRegistration(as other: ClusterNode) -> Bool {
        id == other.id && incarnation == other.incarnation && voter == other.voter && api == other.api && pub == other.pub
            && http == other.http && state == other.state
    }
}

extension MetadataState {
    /// Whether a node record may be applied now (registration, fencing, graceful shutdown).
    func validateMembership(_ record: MetadataRecord) throws(MetadataError) {
        switch record {
        case .nodeRegistered(let node):
            guard !node.id.isEmpty, node.id.utf8.count <= 249 else {
                throw MetadataError(code: .invalidConfiguration, message: "a node id must be 1–249 bytes")
            }
            guard node.state == .alive else {
                throw MetadataError(code: .invalidConfiguration, message: "node \(node.id): a registration records a live node")
            }
            guard let current = nodes[node.id] else { return }
            guard node.incarnation >= current.incarnation else {
                throw MetadataError(code: .invalidConfiguration,
                                    message: "node \(node.id): incarnation \(node.incarnation) is older than the registered \(current.incarnation)")
            }
            guard node.incarnation > current.incarnation || (current.state != .shutdown && !node.sameRegistration(as: current)) else {
                throw MetadataError(code: .invalidConfiguration, message: "node \(node.id) incarnation \(node.incarnation) is already registered as it is")
            }
        case .nodeFenced(let id, let incarnation):
            guard let current = nodes[id], current.incarnation == incarnation, current.state == .alive else {
                throw MetadataError(code: .invalidConfiguration, message: "node \(id) incarnation \(incarnation) has no live session to fence")
            }
        case .nodeShutdown(let id, let incarnation):
            guard let current = nodes[id], current.incarnation == incarnation, current.state != .shutdown else {
                throw MetadataError(code: .invalidConfiguration, message: "node \(id) incarnation \(incarnation) has no session to end")
            }
        default:
            return
        }
    }

    /// Applies a validated node record.
    mutating func applyMembership(_ record: MetadataRecord) {
        switch record {
        case .nodeRegistered(let node): nodes[node.id] = node
        case .nodeFenced(let id, _): nodes[id]?.state = .fenced
        case .nodeShutdown(let id, _): nodes[id]?.state = .shutdown
        default: return
        }
    }
}
