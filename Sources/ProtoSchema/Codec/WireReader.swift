/// Reads protobuf wire format from bytes, with positions for error messages.
struct WireReader {
    let bytes: [UInt8]
    var position: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = end ?? bytes.count
    }

    var isAtEnd: Bool { position >= end }

    mutating func varint() throws(CodecError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while position < end {
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw CodecError(path: "byte \(start)", "varint overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw CodecError(path: "byte \(start)", "varint longer than 10 bytes") }
        }
        throw CodecError(path: "byte \(start)", "truncated varint")
    }

    mutating func fixed32() throws(CodecError) -> UInt32 {
        guard end - position >= 4 else { throw CodecError(path: "byte \(position)", "truncated fixed32") }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[position + index]) << (8 * index) }
        position += 4
        return value
    }

    mutating func fixed64() throws(CodecError) -> UInt64 {
        guard end - position >= 8 else { throw CodecError(path: "byte \(position)", "truncated fixed64") }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[position + index]) << (8 * index) }
        position += 8
        return value
    }

    mutating func lengthDelimited() throws(CodecError) -> Range<Int> {
        let start = position
        let length = try varint()
        guard length <= UInt64(end - position) else {
            throw CodecError(path: "byte \(start)", "length \(length) runs past the end of the message")
        }
        let range = position..<(position + Int(length))
        position += Int(length)
        return range
    }

    /// Skips a group's contents up to its end tag.
    mutating func skipGroup(_ number: UInt64, depth: Int) throws(CodecError) {
        guard depth < 100 else { throw CodecError(path: "byte \(position)", "groups nested too deeply") }
        while true {
            guard !isAtEnd else { throw CodecError(path: "byte \(position)", "unterminated group \(number)") }
            let tag = try varint()
            if tag & 7 == 4 {
                guard tag >> 3 == number else { throw CodecError(path: "byte \(position)", "mismatched end of group") }
                return
            }
            try skip(tag, depth: depth + 1)
        }
    }

    mutating func skip(_ tag: UInt64, depth: Int) throws(CodecError) {
        switch tag & 7 {
        case 0: _ = try varint()
        case 1: _ = try fixed64()
        case 2: _ = try lengthDelimited()
        case 3: try skipGroup(tag >> 3, depth: depth)
        case 5: _ = try fixed32()
        default: throw CodecError(path: "byte \(position)", "invalid wire type \(tag & 7)")
        }
    }
}
