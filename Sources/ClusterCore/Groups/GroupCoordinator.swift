/// The coordinator of one consumer group: a pure state machine in the manner of Kafka's KIP-848.
///
/// Members heartbeat; the coordinator keeps a target assignment (from ``UniformAssignor``) and
/// reconciles each member towards it incrementally: a member first revokes what it must give up,
/// and a partition goes to its new member only once the previous holder has released it.
/// Partitions that do not move are never paused. Member epochs fence zombies: a removed member's
/// requests and commits are refused. No I/O, no clock (time comes in as milliseconds), no
/// randomness: the same inputs give the same outputs.
public struct GroupCoordinator: Sendable {
    /// How long a member may go without a heartbeat before it is removed.
    public var sessionTimeout: Int64
    /// How long a member may take to revoke partitions before it is removed.
    public var rebalanceTimeout: Int64
    /// The group's name.
    public let groupID: String
    /// Bumped whenever membership, subscriptions or topics change.
    public private(set) var groupEpoch: Int32 = 0
    /// The epoch the target assignment was computed at.
    public private(set) var targetEpoch: Int32 = 0
    /// Where every member should end up.
    public private(set) var targetAssignment: [MemberID: Set<TopicPartition>] = [:]
    /// The members, by id.
    public private(set) var members: [MemberID: GroupMember] = [:]
    /// Which member holds each partition (assigned or pending revocation).
    public private(set) var holders: [TopicPartition: MemberID] = [:]
    /// Committed offsets, by partition.
    public private(set) var committedOffsets: [TopicPartition: Int64] = [:]
    private var partitionCounts: [String: Int32] = [:]
    private var nextMemberNumber = 0
    /// Members restored from the previous coordinator's records that have not heartbeated here
    /// yet: their first heartbeat may bring a later epoch than recorded (see ``heartbeat(_:now:)``).
    private var restoredUnconfirmed: Set<MemberID> = []
    /// When the rebalance under way began (its new target computed), in ms; nil when settled.
    private var rebalanceStartedAt: Int64?
    /// How long the last finished rebalance took (ms), until taken.
    private var finishedRebalance: Int64?

    /// How long the last rebalance took, from its new target to every member holding exactly
    /// its part of it (ms), once: nil when none finished since last asked.
    public mutating func takeFinishedRebalance() -> Int64? {
        defer { finishedRebalance = nil }
        return finishedRebalance
    }

    /// A coordinator for `groupID`; `epoch` continues the epochs of an earlier incarnation (after
    /// a restart), so epochs only grow.
    public init(groupID: String, sessionTimeout: Int64 = 45_000, rebalanceTimeout: Int64 = 300_000, epoch: Int32 = 0) {
        self.groupID = groupID
        self.sessionTimeout = sessionTimeout
        self.rebalanceTimeout = rebalanceTimeout
        groupEpoch = epoch
        targetEpoch = epoch
    }

    /// Sets the topics' partition counts (from the cluster metadata).
    /// Only a change to a topic some member subscribes to bumps the group epoch: creating or
    /// deleting an unrelated topic leaves the group alone.
    public mutating func updateTopics(_ counts: [String: Int32]) {
        guard counts != partitionCounts else { return }
        let subscribed = members.values.reduce(into: Set<String>()) { $0.formUnion($1.subscribedTopics) }
        let changed = subscribed.contains { counts[$0] != partitionCounts[$0] }
        partitionCounts = counts
        if changed { groupEpoch += 1 }
    }

    /// Handles a heartbeat at time `now` (ms).
    public mutating func heartbeat(_ request: MemberHeartbeat, now: Int64) throws(GroupError) -> HeartbeatResponse {
        let id: MemberID
        switch request.memberEpoch {
        case MemberHeartbeat.joinEpoch:
            if let chosen = request.memberID, members[chosen] != nil {
                // A retried join (its response was lost): the same member, not an orphan beside it
                // (KIP-1082: clients choose their member ids).
                id = chosen
                restoredUnconfirmed.remove(id)
                members[id]!.lastHeartbeat = now
                if let topics = request.subscribedTopics, topics != members[id]!.subscribedTopics {
                    members[id]!.subscribedTopics = topics
                    groupEpoch += 1
                }
                break
            }
            nextMemberNumber += 1
            // A generated id names the epoch it was made at: epochs continue across restarts, so
            // an id of an earlier incarnation is never handed out again.
            id = request.memberID ?? MemberID("\(groupID)-member-\(groupEpoch).\(nextMemberNumber)")
            members[id] = GroupMember(id: id, memberEpoch: 0, previousMemberEpoch: 0, subscribedTopics: request.subscribedTopics ?? [],
                                      assigned: [], pendingRevocation: [], state: .stable, lastHeartbeat: now, revocationDeadline: nil)
            groupEpoch += 1
        case MemberHeartbeat.leaveEpoch:
            guard let leaving = request.memberID, members[leaving] != nil else {
                throw GroupError(code: .unknownMemberID, message: "no such member to leave group \(groupID)")
            }
            remove(leaving)
            return HeartbeatResponse(memberID: leaving, memberEpoch: MemberHeartbeat.leaveEpoch, assignment: [])
        default:
            guard let existing = request.memberID else {
                throw GroupError(code: .invalidRequest, message: "a heartbeat with epoch \(request.memberEpoch) needs the member id")
            }
            guard let member = members[existing] else {
                throw GroupError(code: .unknownMemberID, message: "member \(existing) is not in group \(groupID); rejoin with epoch 0")
            }
            // A restored member's first heartbeat may bring a later epoch than recorded: the
            // previous coordinator answered it before its record was stored (epochs only grow,
            // so only a live member has it). Fencing it would leave its partitions held by its
            // restored self until the session ends.
            let laterThanRecorded = restoredUnconfirmed.contains(existing) && request.memberEpoch > member.memberEpoch
            guard request.memberEpoch == member.memberEpoch || request.memberEpoch == member.previousMemberEpoch || laterThanRecorded else {
                throw GroupError(code: .fencedMemberEpoch,
                                 message: "member \(existing) sent epoch \(request.memberEpoch), current is \(member.memberEpoch); drop all partitions and rejoin")
            }
            restoredUnconfirmed.remove(existing)
            id = existing
            members[id]!.lastHeartbeat = now
            if let topics = request.subscribedTopics, topics != member.subscribedTopics {
                members[id]!.subscribedTopics = topics
                groupEpoch += 1
            }
        }
        if groupEpoch > targetEpoch {
            refreshTarget()
            if rebalanceStartedAt == nil { rebalanceStartedAt = now }
        }
        reconcile(id, owned: request.ownedPartitions, now: now)
        if let started = rebalanceStartedAt, members.values.allSatisfy({ $0.state == .stable && $0.memberEpoch == targetEpoch }) {
            finishedRebalance = now - started
            rebalanceStartedAt = nil
        }
        let member = members[id]!
        return HeartbeatResponse(memberID: id, memberEpoch: member.memberEpoch, assignment: member.assigned,
                                 awaitingPartitions: member.state == .unreleasedPartitions)
    }

    /// Removes members whose session expired or who did not revoke in time; returns who was removed.
    public mutating func expireMembers(now: Int64) -> [MemberID] {
        let expired = members.values.filter { member in
            now - member.lastHeartbeat > sessionTimeout || (member.revocationDeadline.map { now > $0 } ?? false)
        }.map(\.id).sorted()
        for id in expired { remove(id) }
        return expired
    }

    /// Restores a member as the group's previous coordinator recorded it (the coordinator moved
    /// with its offsets partition): its epoch, subscription and partitions — held as before, so
    /// nothing it holds goes to another member before it gives it up — and a full session from
    /// `now`. The next heartbeat computes a new target from what they hold (sticky), so a
    /// partition that was between owners when the record was made gets one.
    public mutating func restoreMember(_ id: MemberID, epoch: Int32, subscribedTopics: Set<String>, assigned: Set<TopicPartition>, now: Int64) {
        let free = assigned.filter { holders[$0] == nil }
        members[id] = GroupMember(id: id, memberEpoch: epoch, previousMemberEpoch: epoch, subscribedTopics: subscribedTopics,
                                  assigned: free, pendingRevocation: [], state: .stable, lastHeartbeat: now, revocationDeadline: nil)
        for partition in free { holders[partition] = id }
        restoredUnconfirmed.insert(id)
        targetAssignment[id] = free
        if groupEpoch <= targetEpoch { groupEpoch = targetEpoch + 1 }
    }

    /// Removes members known to be gone before their sessions end (their node left the cluster:
    /// fenced, shut down, or restarted as a new incarnation); returns who was removed.
    public mutating func removeMembers(_ ids: [MemberID]) -> [MemberID] {
        let gone = ids.filter { members[$0] != nil }.sorted()
        for id in gone { remove(id) }
        return gone
    }

    /// Accepts a committed offset only from the member that holds the partition, at its current
    /// (or previous) epoch: a fenced zombie's commits are refused.
    public mutating func commit(memberID: MemberID, memberEpoch: Int32, partition: TopicPartition, offset: Int64) throws(GroupError) {
        try checkCommit(memberID: memberID, memberEpoch: memberEpoch, partition: partition)
        committedOffsets[partition] = offset
    }

    /// Checks that `memberID` at `memberEpoch` may commit `partition`, without applying anything
    /// (the node applies the offset with ``restoreOffset(_:for:)`` once it is durable).
    public func checkCommit(memberID: MemberID, memberEpoch: Int32, partition: TopicPartition) throws(GroupError) {
        guard let member = members[memberID] else {
            throw GroupError(code: .unknownMemberID, message: "member \(memberID) is not in group \(groupID); its commit of \(partition) is refused")
        }
        guard memberEpoch == member.memberEpoch || memberEpoch == member.previousMemberEpoch else {
            throw GroupError(code: .fencedMemberEpoch, message: "commit of \(partition) with stale epoch \(memberEpoch) (current \(member.memberEpoch))")
        }
        guard member.held.contains(partition) else {
            throw GroupError(code: .notPartitionOwner, message: "member \(memberID) does not hold \(partition)")
        }
    }

    /// Restores an offset committed before a restart (replayed from the offsets log); nil
    /// forgets it (its topic was deleted).
    public mutating func restoreOffset(_ offset: Int64?, for partition: TopicPartition) {
        committedOffsets[partition] = offset
    }

    private mutating func remove(_ id: MemberID) {
        guard let member = members.removeValue(forKey: id) else { return }
        restoredUnconfirmed.remove(id)
        for partition in member.held where holders[partition] == id { holders[partition] = nil }
        groupEpoch += 1
    }

    private mutating func refreshTarget() {
        targetAssignment = UniformAssignor.assign(
            members: members.mapValues(\.subscribedTopics), partitionCounts: partitionCounts, previous: targetAssignment)
        targetEpoch = groupEpoch
    }

    /// Moves a member one step towards its target (Kafka's CurrentAssignmentBuilder).
    private mutating func reconcile(_ id: MemberID, owned: Set<TopicPartition>?, now: Int64) {
        var member = members[id]!
        defer { members[id] = member }
        if member.state == .unrevokedPartitions {
            // Still holding something it must give up: wait until it reports it no longer owns it.
            guard let owned, owned.isDisjoint(with: member.pendingRevocation) else { return }
            for partition in member.pendingRevocation where holders[partition] == id { holders[partition] = nil }
            member.pendingRevocation = []
            member.revocationDeadline = nil
            member.state = .stable
        }
        let target = targetAssignment[id] ?? []
        let revoke = member.assigned.subtracting(target)
        if !revoke.isEmpty {
            member.assigned.subtract(revoke)
            member.pendingRevocation = revoke
            member.state = .unrevokedPartitions
            member.revocationDeadline = now + rebalanceTimeout
            return
        }
        // Take what is free; what others still hold comes at a later heartbeat.
        var available = member.assigned
        for partition in target where holders[partition] == nil || holders[partition] == id {
            available.insert(partition)
            holders[partition] = id
        }
        member.assigned = available
        member.state = available == target ? .stable : .unreleasedPartitions
        if member.memberEpoch != targetEpoch {
            member.previousMemberEpoch = member.memberEpoch
            member.memberEpoch = targetEpoch
        }
    }
}
