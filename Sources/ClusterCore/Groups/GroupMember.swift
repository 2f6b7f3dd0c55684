/// What the coordinator knows of one member of a consumer group.
public struct GroupMember: Sendable, Hashable {
    /// Where the member is in reconciling its assignment with the target.
    public enum State: String, Sendable, Hashable {
        /// Owns exactly its target.
        case stable
        /// Must give up `pendingRevocation` (commit, stop) before getting anything new.
        case unrevokedPartitions = "unrevoked_partitions"
        /// Waits for partitions other members have not released yet.
        case unreleasedPartitions = "unreleased_partitions"
    }

    /// The member's id.
    public var id: MemberID
    /// The epoch of the assignment the member has; requests with an older epoch are fenced.
    public var memberEpoch: Int32
    /// The epoch before the last bump (a request in flight may still carry it).
    public var previousMemberEpoch: Int32
    /// Topics the member subscribes to.
    public var subscribedTopics: Set<String>
    /// Partitions the member may process now.
    public var assigned: Set<TopicPartition>
    /// Partitions the member must give up before it gets new ones.
    public var pendingRevocation: Set<TopicPartition>
    /// Reconciliation state.
    public var state: State
    /// When the member last heartbeated (ms).
    public var lastHeartbeat: Int64
    /// When the member must have revoked `pendingRevocation` by (ms), or nil.
    public var revocationDeadline: Int64?

    /// Partitions the member holds in any way (assigned or still to revoke).
    public var held: Set<TopicPartition> { assigned.union(pendingRevocation) }
}

/// What a member tells the coordinator in a heartbeat.
public struct MemberHeartbeat: Sendable, Hashable {
    /// The member's id (ignored when joining).
    public var memberID: MemberID?
    /// 0 to join, -1 to leave, otherwise the member's current epoch.
    public var memberEpoch: Int32
    /// New subscriptions, or nil when unchanged.
    public var subscribedTopics: Set<String>?
    /// The partitions the member owns right now (after any revocation it finished), or nil when unchanged.
    public var ownedPartitions: Set<TopicPartition>?

    /// A heartbeat.
    public init(memberID: MemberID?, memberEpoch: Int32, subscribedTopics: Set<String>? = nil, ownedPartitions: Set<TopicPartition>? = nil) {
        self.memberID = memberID
        self.memberEpoch = memberEpoch
        self.subscribedTopics = subscribedTopics
        self.ownedPartitions = ownedPartitions
    }

    /// The epoch that joins a group.
    public static let joinEpoch: Int32 = 0
    /// The epoch that leaves a group.
    public static let leaveEpoch: Int32 = -1
}

/// The coordinator's answer to a heartbeat.
public struct HeartbeatResponse: Sendable, Hashable {
    /// The member's id (new on join).
    public var memberID: MemberID
    /// The member's epoch to use from now on.
    public var memberEpoch: Int32
    /// Exactly the partitions the member may process now; anything else it holds it must revoke
    /// (commit, stop, then report it no longer owns it).
    public var assignment: Set<TopicPartition>
    /// Whether part of the member's target is still held by another member that was told to
    /// release it: the member should heartbeat again soon, to take it as soon as it is free.
    public var awaitingPartitions = false
}

/// Why the coordinator refused a request.
public struct GroupError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of refusal.
    public enum Code: String, Sendable, Hashable {
        /// The member's epoch is stale (or it was removed): drop every partition and rejoin.
        case fencedMemberEpoch = "fenced_member_epoch"
        /// The member id is not in the group: rejoin.
        case unknownMemberID = "unknown_member_id"
        /// The request is malformed (e.g. no id on a heartbeat).
        case invalidRequest = "invalid_request"
        /// A commit for a partition the member does not hold.
        case notPartitionOwner = "not_partition_owner"
    }

    /// What kind of refusal.
    public var code: Code
    /// What happened and what to do.
    public var message: String

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
