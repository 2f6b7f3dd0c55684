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

    /// A group's members, their partitions and its lag per partition. The ends of partitions
    /// the answering node holds no replica of (its answer says -1) are asked of their leaders
    /// (one request per topic and leader); one that cannot be learnt stays -1, as does its lag.
    public func describeGroup(_ group: String) async throws -> Ganglion_V1_DescribeGroupResponse {
        var request = Ganglion_V1_DescribeGroupRequest()
        request.group = group
        var described = try await call(.describeGroup, request, reply: Ganglion_V1_DescribeGroupResponse.self).0
        var unknown: [String: [UInt32]] = [:]
        for row in described.lag + described.uncommitted where row.highWatermark < 0 { unknown[row.topic, default: []].append(row.partition) }
        guard !unknown.isEmpty else { return described }
        var ends: [String: [UInt32: Int64]] = [:]
        for (topic, partitions) in unknown {
            // All at once; when that fails (a partition without a leader now), one by one, so
            // the others still get their ends.
            var offsets = try? await listOffsets(topic: topic, partitions: partitions, timestamp: -1)
            if offsets == nil {
                offsets = []
                for partition in partitions {
                    offsets! += (try? await listOffsets(topic: topic, partitions: [partition], timestamp: -1)) ?? []
                }
            }
            for offset in offsets ?? [] where offset.offset >= 0 { ends[topic, default: [:]][offset.partition] = offset.offset }
        }
        func filled(_ rows: inout [Ganglion_V1_PartitionLag]) {
            for index in rows.indices where rows[index].highWatermark < 0 {
                guard let end = ends[rows[index].topic]?[rows[index].partition] else { continue }
                rows[index].highWatermark = end
                if rows[index].committedOffset >= 0 { rows[index].lag = max(0, end - rows[index].committedOffset) }
            }
        }
        filled(&described.lag)
        filled(&described.uncommitted)
        return described
    }

    /// The offsets of `topic`'s partitions (all when `partitions` is empty) at the log start
    /// (`-2`), the log end (`-1`), or the first record at or after a time in ms.
    public func listOffsets(topic: String, partitions: [UInt32] = [], timestamp: Int64) async throws -> [Ganglion_V1_PartitionOffset] {
        // Each partition is asked of its leader: one request per leader.
        var wanted = partitions
        if wanted.isEmpty { wanted = try await describeTopic(topic).partitions.map(\.partition) }
        var byLeader: [String: [UInt32]] = [:]
        for partition in wanted { byLeader[try await leader(of: topic, partition: partition).api ?? "", default: []].append(partition) }
        var offsets: [Ganglion_V1_PartitionOffset] = []
        for (node, group) in byLeader.sorted(by: { $0.key < $1.key }) {
            var request = Ganglion_V1_ListOffsetsRequest()
            request.topic = topic
            request.partitions = group
            request.timestamp = timestamp
            if group.count == 1 {
                let single = request
                offsets += try await routed(topic, group[0], timeout: nil) { node, remaining in
                    try await self.call(.listOffsets, single, timeout: remaining, to: node, reply: Ganglion_V1_ListOffsetsResponse.self).0.offsets
                }
            } else {
                offsets += try await call(.listOffsets, request, to: node.isEmpty ? nil : node, reply: Ganglion_V1_ListOffsetsResponse.self).0.offsets
            }
        }
        return offsets.sorted { $0.partition < $1.partition }
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
