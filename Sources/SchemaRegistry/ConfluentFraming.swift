/// Confluent's wire framing of a serialized protobuf payload: magic byte 0, the schema id (4
/// bytes, big-endian), the message-index path (zigzag varints: count, then indexes; a lone 0
/// means `[0]`), then the message bytes.
public struct ConfluentFraming: Sendable, Hashable {
    /// The registry id of the writer's schema.
    public var schemaID: Int32
    /// The message's path among the schema's (nested) message types.
    public var messageIndexes: [Int]
    /// Where the message bytes start in the framed payload.
    public var payloadOffset: Int

    /// Parses the framing at the start of `bytes`; nil when they do not start with it.
    public init?(parsing bytes: some Collection<UInt8>) {
        let bytes = Array(bytes.prefix(5 + 10 * 16))
        guard bytes.count >= 6, bytes[0] == 0 else { return nil }
        schemaID = Int32(bitPattern: UInt32(bytes[1]) << 24 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 8 | UInt32(bytes[4]))
        guard schemaID > 0 else { return nil }
        var position = 5
        func varint() -> Int? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while position < bytes.count, shift < 64 {
                let byte = bytes[position]
                position += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return Int(Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))) }
                shift += 7
            }
            return nil
        }
        guard let count = varint(), count >= 0, count <= 16 else { return nil }
        var indexes: [Int] = []
        for _ in 0..<count {
            guard let index = varint(), index >= 0 else { return nil }
            indexes.append(index)
        }
        messageIndexes = count == 0 ? [0] : indexes
        payloadOffset = position
    }

    /// The framing bytes for `schemaID` and `messageIndexes` (to prepend to a message).
    public static func header(schemaID: Int32, messageIndexes: [Int] = [0]) -> [UInt8] {
        var bytes: [UInt8] = [0]
        withUnsafeBytes(of: UInt32(bitPattern: schemaID).bigEndian) { bytes += $0 }
        func varint(_ value: Int) {
            var zigzag = UInt64(bitPattern: Int64(value) << 1 ^ Int64(value) >> 63)
            while zigzag >= 0x80 {
                bytes.append(UInt8(zigzag & 0x7f) | 0x80)
                zigzag >>= 7
            }
            bytes.append(UInt8(zigzag))
        }
        if messageIndexes == [0] {
            bytes.append(0)
        } else {
            varint(messageIndexes.count)
            for index in messageIndexes { varint(index) }
        }
        return bytes
    }
}
