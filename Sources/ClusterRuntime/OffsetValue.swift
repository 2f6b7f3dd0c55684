/// A committed offset as the offsets log stores it: the offset, the metadata committed with it,
/// and the id of the topic it was committed on (a cluster's topics have one, ``TopicConfiguration/topicID``),
/// which tells it from an offset of an earlier topic of the same name.
struct OffsetValue: Equatable, Sendable {
    /// The next offset to consume.
    var offset: Int64
    /// What the committer stored with it.
    var metadata: String
    /// The topic's id when it was committed (nil: the topic had none, or the value predates ids).
    var topicID: String?

    /// The first byte of the layout with a topic id: `0xFF`, the offset (8 bytes, big-endian), the
    /// id's length (1 byte) and UTF-8, then the metadata's. The layout without one — the offset,
    /// then the metadata — never starts with it, since no committed offset is negative.
    static let withTopicID: UInt8 = 0xFF

    /// The value's bytes.
    var encoded: [UInt8] {
        var bytes: [UInt8] = []
        let id = topicID.map { Array($0.utf8) }.flatMap { $0.count <= 255 ? $0 : nil }
        bytes.reserveCapacity(10 + (id?.count ?? 0) + metadata.utf8.count)
        if id != nil { bytes.append(Self.withTopicID) }
        withUnsafeBytes(of: offset.bigEndian) { bytes.append(contentsOf: $0) }
        if let id {
            bytes.append(UInt8(id.count))
            bytes.append(contentsOf: id)
        }
        bytes.append(contentsOf: metadata.utf8)
        return bytes
    }

    /// A value read back; nil when the bytes are not one.
    init?(decoding value: [UInt8]) {
        if value.first == Self.withTopicID {
            guard value.count >= 10 else { return nil }
            let length = Int(value[9])
            guard value.count >= 10 + length else { return nil }
            offset = value.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(fromByteOffset: 1, as: Int64.self)) }
            topicID = String(decoding: value[10..<10 + length], as: UTF8.self)
            metadata = String(decoding: value[(10 + length)...], as: UTF8.self)
        } else {
            guard value.count >= 8 else { return nil }
            offset = value.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(as: Int64.self)) }
            topicID = nil
            metadata = String(decoding: value[8...], as: UTF8.self)
        }
    }

    /// A value to store.
    init(offset: Int64, metadata: String, topicID: String?) {
        self.offset = offset
        self.metadata = metadata
        self.topicID = topicID
    }
}
