/// The PUB topic frame of a partition's stream: `p\0<topic>\0<partition, 4 bytes big-endian>`.
public enum StreamTopic {
    /// The frame a subscriber subscribes to for `partition`.
    public static func frame(for partition: TopicPartition) -> [UInt8] {
        // One allocation: this runs for every batch published.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(partition.topic.utf8.count + 7)
        bytes.append(UInt8(ascii: "p"))
        bytes.append(0)
        bytes.append(contentsOf: partition.topic.utf8)
        bytes.append(0)
        withUnsafeBytes(of: UInt32(partition.partition).bigEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }
}

extension StreamTopic {
    /// The topic a subscription prefix is confined to: the prefix must name a whole topic
    /// (`p\0<topic>\0`, optionally followed by up to 4 bytes of partition); nil for a prefix that
    /// could match several topics (`p\0or`) or is not a stream topic at all.
    public static func topic(ofSubscription prefix: [UInt8]) -> String? {
        guard prefix.count >= 3, prefix[0] == UInt8(ascii: "p"), prefix[1] == 0,
              let end = prefix[2...].firstIndex(of: 0), end > 2, prefix.count - end - 1 <= 4 else { return nil }
        return String(validating: prefix[2..<end], as: UTF8.self)
    }
}

extension StreamTopic {
    /// The PUB topic frame of a partition's replication stream, `r\0<topic>\0<partition, 4 bytes
    /// big-endian>`: the leader publishes there each batch its followers may copy, before it is
    /// committed. Only nodes subscribe to it (consumers' `p\0` frames never match it, and a
    /// secured node grants it to the nodes' principal alone).
    public static func replicationFrame(for partition: TopicPartition) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "r"), 0] + Array(partition.topic.utf8) + [0]
        withUnsafeBytes(of: UInt32(partition.partition).bigEndian) { bytes += $0 }
        return bytes
    }

    /// Whether a subscription prefix is one of replication streams (`r\0…`): for nodes only.
    /// (A shorter prefix that would match them too, such as the empty one, names no whole topic
    /// and is refused as such.)
    public static func isReplication(subscription prefix: [UInt8]) -> Bool {
        prefix.count >= 2 && prefix[0] == UInt8(ascii: "r") && prefix[1] == 0
    }
}
