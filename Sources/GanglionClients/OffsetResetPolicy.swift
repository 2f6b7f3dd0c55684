/// Where a consumer starts when its group has no committed offset for a partition, and where it
/// goes when its position is outside the log (retention or a truncation removed it): Kafka's
/// `auto.offset.reset`.
public enum OffsetResetPolicy: String, Sendable, Hashable, CaseIterable {
    /// The log's first offset still stored.
    case earliest
    /// The log's end: only records appended from now on.
    case latest
    /// No reset: the consumer fails with `OFFSET_OUT_OF_RANGE`, naming the position and the log.
    case none

    /// The ListOffsets timestamp that finds this policy's offset (-2 earliest, -1 latest).
    var listOffsetsTimestamp: Int64? {
        switch self {
        case .earliest: -2
        case .latest: -1
        case .none: nil
        }
    }
}

extension GanglionClient {
    /// The offset `policy` starts `partition` of `topic` at; throws `OFFSET_OUT_OF_RANGE` for
    /// `.none`, explaining `why` (the position that had no offset or fell outside the log).
    func resetOffset(topic: String, partition: UInt32, policy: OffsetResetPolicy, why: String) async throws -> Int64 {
        guard let timestamp = policy.listOffsetsTimestamp else {
            throw GanglionError(code: .offsetOutOfRange, message: "\(why); the reset policy is none (use .earliest or .latest to reset)")
        }
        let offsets = try await listOffsets(topic: topic, partitions: [partition], timestamp: timestamp)
        guard let found = offsets.first(where: { $0.partition == partition }) else {
            throw GanglionError(code: .unknownPartition, message: "\(topic)-\(partition) has no offsets to reset to")
        }
        return found.offset
    }
}
