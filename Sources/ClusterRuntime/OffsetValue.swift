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

    /// The byte between the metadata and the topic id. The layout is the offset (8 bytes,
    /// big-endian), the metadata's UTF-8, then, with an id, this byte and the id's UTF-8 — a byte
    /// no UTF-8 text holds, so the values written before ids were recorded (no such byte) read as
    /// they were, and a node from before reads the offset of a value with an id correctly.
    static let topicIDMarker: UInt8 = 0xFF

    /// The value's bytes.
    var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(9 + metadata.utf8.count + (topicID?.utf8.count ?? 0))
        withUnsafeBytes(of: offset.bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: metadata.utf8)
        if let topicID {
            bytes.append(Self.topicIDMarker)
            bytes.append(contentsOf: topicID.utf8)
        }
        return bytes
    }

    /// A value read back; nil when the bytes are not one.
    init?(decoding value: [UInt8]) {
        guard value.count >= 8 else { return nil }
        offset = value.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(as: Int64.self)) }
        let rest = value[8...]
        if let marker = rest.firstIndex(of: Self.topicIDMarker) {
            metadata = String(decoding: rest[..<marker], as: UTF8.self)
            topicID = String(decoding: rest[(marker + 1)...], as: UTF8.self)
        } else {
            metadata = String(decoding: rest, as: UTF8.self)
            topicID = nil
        }
    }

    /// A value to store.
    init(offset: Int64, metadata: String, topicID: String?) {
        self.offset = offset
        self.metadata = metadata
        self.topicID = topicID
    }
}
