/// The PUB topic frame of a partition's stream: `p\0<topic>\0<partition, 4 bytes big-endian>`.
public enum StreamTopic {
    /// The frame a subscriber subscribes to for `partition`.
    public static func frame(for partition: TopicPartition) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "p"), 0] + Array(partition.topic.utf8) + [0]
        withUnsafeBytes(of: UInt32(partition.partition).bigEndian) { bytes += $0 }
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
