/// The PUB topic frame of a partition's stream: `p\0<topic>\0<partition, 4 bytes big-endian>`.
public enum StreamTopic {
    /// The frame a subscriber subscribes to for `partition`.
    public static func frame(for partition: TopicPartition) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "p"), 0] + Array(partition.topic.utf8) + [0]
        withUnsafeBytes(of: UInt32(partition.partition).bigEndian) { bytes += $0 }
        return bytes
    }
}
