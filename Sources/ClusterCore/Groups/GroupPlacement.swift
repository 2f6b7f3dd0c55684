/// Where a consumer group is coordinated on a cluster (Kafka's placement): the partition of
/// `__consumer_offsets` its name hashes to. That partition's leader is the group's coordinator and
/// holds the group's offsets and epochs in it, replicated like any partition, so the coordinator
/// moves with the partition's leadership and nothing committed is lost when a node dies. Pure.
public enum GroupPlacement {
    /// The internal topic holding every group's committed offsets and epochs.
    public static let offsetsTopic = "__consumer_offsets"
    /// Its partitions, fixed when the cluster creates it.
    public static let offsetsPartitions: Int32 = 8
    /// Topic names only the cluster itself creates.
    public static let internalTopics: Set<String> = [offsetsTopic]

    /// The `__consumer_offsets` partition of `group` among `partitions`.
    public static func partition(of group: String, partitions: Int32 = offsetsPartitions) -> Int32 {
        KeyPartitioner.partition(for: Array(group.utf8), partitionCount: partitions)
    }
}
