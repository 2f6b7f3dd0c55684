import GanglionWire

/// Where a group's offsets on a topic should move.
public enum OffsetResetTarget: Sendable, Hashable {
    /// Each partition's log start.
    case earliest
    /// Each partition's log end.
    case latest
    /// This offset in every partition (clamped to the log).
    case offset(Int64)
    /// The first record at or after this time (ms since the epoch).
    case timestamp(Int64)
    /// The committed offset moved by this many (negative: back).
    case shift(Int64)
}

extension GanglionClient {
    /// Every consumer group the node knows: with members, or with committed offsets only.
    public func listGroups() async throws -> [Ganglion_V1_GroupSummary] {
        try await call(.listGroups, Ganglion_V1_ListGroupsRequest(), reply: Ganglion_V1_ListGroupsResponse.self).0.groups
    }

    /// A group's members, their partitions and its lag per partition.
    public func describeGroup(_ group: String) async throws -> Ganglion_V1_DescribeGroupResponse {
        var request = Ganglion_V1_DescribeGroupRequest()
        request.group = group
        return try await call(.describeGroup, request, reply: Ganglion_V1_DescribeGroupResponse.self).0
    }

    /// The offsets of `topic`'s partitions (all when `partitions` is empty) at the log start
    /// (`-2`), the log end (`-1`), or the first record at or after a time in ms.
    public func listOffsets(topic: String, partitions: [UInt32] = [], timestamp: Int64) async throws -> [Ganglion_V1_PartitionOffset] {
        var request = Ganglion_V1_ListOffsetsRequest()
        request.topic = topic
        request.partitions = partitions
        request.timestamp = timestamp
        return try await call(.listOffsets, request, reply: Ganglion_V1_ListOffsetsResponse.self).0.offsets
    }

    /// Moves `group`'s committed offsets on `topic` (refused while the group has members);
    /// with `dryRun`, only answers what they would be.
    public func resetOffsets(group: String, topic: String, partitions: [UInt32] = [], to target: OffsetResetTarget,
                             dryRun: Bool = false) async throws -> [Ganglion_V1_PartitionOffset] {
        var request = Ganglion_V1_ResetOffsetsRequest()
        request.group = group
        request.topic = topic
        request.partitions = partitions
        request.dryRun = dryRun
        switch target {
        case .earliest: request.toEarliest = true
        case .latest: request.toLatest = true
        case .offset(let offset): request.toOffset = offset
        case .timestamp(let time): request.toTimestamp = time
        case .shift(let shift): request.shiftBy = shift
        }
        return try await call(.resetOffsets, request, reply: Ganglion_V1_ResetOffsetsResponse.self).0.offsets
    }
}
