/// Chooses a key's partition exactly as Kafka's default partitioner does (murmur2 of the key
/// bytes, made positive, modulo the partition count), so keys land where Kafka users expect.
public enum KeyPartitioner {
    /// The partition of `key` among `partitionCount` partitions.
    public static func partition<Key: Collection>(for key: Key, partitionCount: Int32) -> Int32 where Key.Element == UInt8 {
        precondition(partitionCount > 0, "a topic has at least one partition")
        return (murmur2(key) & 0x7FFF_FFFF) % partitionCount
    }

    /// Kafka's `Utils.murmur2`: MurmurHash2 (32-bit) with seed 0x9747b28c.
    public static func murmur2<Key: Collection>(_ key: Key) -> Int32 where Key.Element == UInt8 {
        let bytes = Array(key)
        let length = bytes.count
        let m: UInt32 = 0x5BD1_E995
        let r: UInt32 = 24
        var h: UInt32 = 0x9747_B28C ^ UInt32(truncatingIfNeeded: length)
        let blocks = length / 4
        for block in 0..<blocks {
            let i = block * 4
            var k = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
        }
        let tail = blocks * 4
        switch length % 4 {
        case 3:
            h ^= UInt32(bytes[tail + 2]) << 16
            h ^= UInt32(bytes[tail + 1]) << 8
            h ^= UInt32(bytes[tail])
            h = h &* m
        case 2:
            h ^= UInt32(bytes[tail + 1]) << 8
            h ^= UInt32(bytes[tail])
            h = h &* m
        case 1:
            h ^= UInt32(bytes[tail])
            h = h &* m
        default:
            break
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }
}
