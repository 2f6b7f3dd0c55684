/// Length-prefixed binary values for changelog records (ClusterCore has no Foundation).
struct ByteWriter {
    private(set) var output: [UInt8] = []

    /// A writer of nothing yet.
    init() {}

    /// A writer whose output holds `capacity` bytes before it grows (a record's value of known
    /// size is then one allocation).
    init(capacity: Int) { output.reserveCapacity(capacity) }

    /// The bytes ``string(_:)`` writes for `value`.
    static func size(ofString value: String) -> Int { 8 + value.utf8.count }

    mutating func integer(_ value: Int64) {
        withUnsafeBytes(of: value.bigEndian) { output += $0 }
    }

    mutating func bytes(_ value: [UInt8]) {
        integer(Int64(value.count))
        output += value
    }

    mutating func optionalBytes(_ value: [UInt8]?) {
        if let value {
            output.append(1)
            bytes(value)
        } else {
            output.append(0)
        }
    }

    /// The string's UTF-8 bytes as ``bytes(_:)`` writes bytes, appended from the string itself.
    mutating func string(_ value: String) {
        let utf8 = value.utf8
        integer(Int64(utf8.count))
        output.append(contentsOf: utf8)
    }
}

/// Reads what ``ByteWriter`` wrote; nil on truncated or malformed input.
struct ByteReader {
    private let input: [UInt8]
    private var position = 0

    init(_ input: [UInt8]) { self.input = input }

    /// Whether everything was read.
    var isAtEnd: Bool { position >= input.count }

    mutating func integer() -> Int64? {
        guard position + 8 <= input.count else { return nil }
        var value: Int64 = 0
        for byte in input[position..<(position + 8)] { value = value << 8 | Int64(byte) }
        position += 8
        return value
    }

    mutating func bytes() -> [UInt8]? {
        // Compared against what remains, so a count near Int64.max cannot overflow the sum.
        guard let count = integer(), count >= 0, count <= Int64(input.count - position) else { return nil }
        defer { position += Int(count) }
        return Array(input[position..<(position + Int(count))])
    }

    mutating func optionalBytes() -> [UInt8]?? {
        guard position < input.count else { return nil }
        let flag = input[position]
        position += 1
        if flag == 0 { return .some(nil) }
        return bytes().map { .some($0) }
    }

    mutating func string() -> String? { bytes().map { String(decoding: $0, as: UTF8.self) } }
}
