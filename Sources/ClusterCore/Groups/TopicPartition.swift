/// One partition of a topic: what a consumer group hands out to its members.
public struct TopicPartition: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The topic's name.
    public var topic: String
    /// The partition number, from 0.
    public var partition: Int32

    /// Partition `partition` of `topic`.
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// Ordered by topic, then partition.
    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    /// `topic-3`, as Kafka tools print partitions.
    public var description: String { "\(topic)-\(partition)" }
}

/// A group member's id, chosen by the coordinator when the member joins.
public struct MemberID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id's text.
    public var value: String

    /// A member id.
    public init(_ value: String) { self.value = value }

    /// Ordered by text (assignments are deterministic).
    public static func < (lhs: MemberID, rhs: MemberID) -> Bool { lhs.value < rhs.value }

    /// The id's text.
    public var description: String { value }
}
