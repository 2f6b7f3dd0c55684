/// How a topic is laid out and kept.
public struct TopicConfiguration: Sendable, Hashable, Codable {
    /// Number of partitions (fixed once created).
    public var partitions: Int32
    /// Copies of each partition (1 on a single node).
    public var replicationFactor: Int32
    /// Keep records this long (ms); nil keeps them forever.
    public var retentionMilliseconds: Int64?
    /// Keep at most this many bytes per partition; nil for no bound.
    public var retentionBytes: Int64?
    /// Compact by key instead of only deleting old segments.
    public var compacted: Bool
    /// The schema registry subject the topic's events belong to (nil: none).
    public var subject: String?
    /// How produced events are checked against `subject` (nil: not at all).
    public var validation: SchemaValidationMode?
    /// The fewest in-sync replicas with which an `acks=all` produce is acknowledged (nil: min(2, R)).
    public var minInSyncReplicas: Int32?
    /// Tells this topic from an earlier one of the same name (set on a cluster of several): a
    /// replica's log kept from a deleted topic is never taken for the new one's.
    public var topicID: String?

    /// A configuration; defaults keep records for 7 days, one replica, no schema checks.
    public init(partitions: Int32, replicationFactor: Int32 = 1, retentionMilliseconds: Int64? = 7 * 24 * 3_600_000,
                retentionBytes: Int64? = nil, compacted: Bool = false, subject: String? = nil, validation: SchemaValidationMode? = nil,
                minInSyncReplicas: Int32? = nil) {
        self.minInSyncReplicas = minInSyncReplicas
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.retentionMilliseconds = retentionMilliseconds
        self.retentionBytes = retentionBytes
        self.compacted = compacted
        self.subject = subject
        self.validation = validation
    }

    /// The most partitions a topic may have.
    public static let maxPartitions: Int32 = 10_000
}

/// How a node checks produced events against a topic's subject.
public enum SchemaValidationMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// No check.
    case none
    /// The event's schema id must be a version of the subject.
    case id
    /// As `id`, and the payload must decode as the named message.
    case full
}

/// One change to the cluster metadata, as stored in the metadata log.
public enum MetadataRecord: Sendable, Hashable, Codable {
    /// A topic was created.
    case topicCreated(name: String, configuration: TopicConfiguration)
    /// A topic was deleted.
    case topicDeleted(name: String)
    /// An idempotent producer id was issued, or its epoch bumped (fencing older instances).
    case producerInitialized(id: Int64, epoch: Int16)
    /// A consumer group's coordinator computed a new target assignment.
    case groupAssignment(group: String, assignment: GroupAssignment)
    /// A node registered (or re-registered: a new incarnation, new endpoints, or back after being fenced).
    case nodeRegistered(ClusterNode)
    /// A node's session expired: the controller stopped hearing from it.
    case nodeFenced(id: String, incarnation: UInt64)
    /// A node left gracefully.
    case nodeShutdown(id: String, incarnation: UInt64)
    /// A topic was created with its partitions placed on nodes (a cluster of several).
    case topicPlaced(name: String, configuration: TopicConfiguration, partitions: [PartitionState])
    /// A partition's leader or in-sync replicas changed.
    case partitionChanged(PartitionChange)
    /// An ACL was added (``SecurityState``).
    case aclAdded(AclBinding)
    /// An ACL was removed.
    case aclRemoved(AclBinding)
    /// A principal was added with its CURVE public key (40 Z85 characters).
    case principalAdded(name: String, publicKey: String)
    /// A principal was removed, and with it its tokens.
    case principalRemoved(name: String)
    /// An HTTP bearer token was created (only its secret's hash is recorded).
    case tokenCreated(id: String, token: HTTPToken)
    /// An HTTP bearer token was revoked.
    case tokenRevoked(id: String)
}

/// A consumer group's target assignment at an epoch: which member should own which partitions.
public struct GroupAssignment: Sendable, Hashable, Codable {
    /// The group epoch the assignment was computed at.
    public var epoch: Int32
    /// Partitions by member id.
    public var members: [String: [TopicPartition]]

    /// An assignment.
    public init(epoch: Int32, members: [String: [TopicPartition]]) {
        self.epoch = epoch
        self.members = members
    }
}

/// Why a metadata change was refused.
public struct MetadataError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of refusal.
    public enum Code: String, Sendable, Hashable {
        /// The topic name breaks the naming rules.
        case invalidTopicName = "invalid_topic_name"
        /// A topic with this name exists.
        case topicExists = "topic_exists"
        /// No topic with this name.
        case unknownTopic = "unknown_topic"
        /// A setting is out of bounds.
        case invalidConfiguration = "invalid_configuration"
        /// A change was decided against an older epoch than the recorded one.
        case staleEpoch = "stale_epoch"
        /// An ACL, principal or token change was refused (the message starts with the ``SecurityError`` code).
        case invalidSecurityChange = "invalid_security_change"
    }

    /// What kind of refusal.
    public var code: Code
    /// What is wrong and what to do.
    public var message: String

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
