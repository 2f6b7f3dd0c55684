import Foundation

/// Where the members of a JSON object, or the elements of a JSON array, lie in the bytes they
/// were read from — so a CloudEvent's `data` is stored as the sender wrote it (same numbers,
/// spacing and key order), not as a re-encoding. Only called on bytes that already parsed as
/// JSON, so it can skip values without checking them again; it never recurses.
struct JSONSpans {
    let bytes: [UInt8]

    /// The members of the object starting at `start` (after whitespace), keys decoded.
    func members(ofObjectAt start: Int) -> [(key: String, value: Range<Int>)] {
        var position = skipWhitespace(start)
        guard position < bytes.count, bytes[position] == UInt8(ascii: "{") else { return [] }
        position += 1
        var members: [(key: String, value: Range<Int>)] = []
        while true {
            position = skipWhitespace(position)
            guard position < bytes.count, bytes[position] != UInt8(ascii: "}") else { return members }
            if bytes[position] == UInt8(ascii: ",") { position = skipWhitespace(position + 1) }
            let keyEnd = skipString(position)
            let key = decodeString(position..<keyEnd)
            position = skipWhitespace(keyEnd)
            position = skipWhitespace(position + 1)   // the colon
            let valueEnd = skipValue(position)
            members.append((key, position..<valueEnd))
            position = valueEnd
        }
    }

    /// The elements of the array starting at `start` (after whitespace).
    func elements(ofArrayAt start: Int) -> [Range<Int>] {
        var position = skipWhitespace(start)
        guard position < bytes.count, bytes[position] == UInt8(ascii: "[") else { return [] }
        position += 1
        var elements: [Range<Int>] = []
        while true {
            position = skipWhitespace(position)
            guard position < bytes.count, bytes[position] != UInt8(ascii: "]") else { return elements }
            if bytes[position] == UInt8(ascii: ",") { position = skipWhitespace(position + 1) }
            let end = skipValue(position)
            elements.append(position..<end)
            position = end
        }
    }

    private func skipWhitespace(_ start: Int) -> Int {
        var position = start
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        return position
    }

    /// The end of the string starting at `start` (its opening quote).
    private func skipString(_ start: Int) -> Int {
        var position = start + 1
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "\\"): position += 2
            case UInt8(ascii: "\""): return position + 1
            default: position += 1
            }
        }
        return position
    }

    /// The end of the value starting at `start`: nested brackets are counted, strings skipped.
    private func skipValue(_ start: Int) -> Int {
        guard start < bytes.count else { return start }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return skipString(start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var position = start
            while position < bytes.count {
                switch bytes[position] {
                case UInt8(ascii: "\""): position = skipString(position); continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return position + 1 }
                default: break
                }
                position += 1
            }
            return position
        default:
            var position = start
            while position < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) {
                position += 1
            }
            return position
        }
    }

    private func decodeString(_ range: Range<Int>) -> String {
        let inner = bytes[(range.lowerBound + 1)..<max(range.lowerBound + 1, range.upperBound - 1)]
        if !inner.contains(UInt8(ascii: "\\")) { return String(decoding: inner, as: UTF8.self) }
        return (try? JSONSerialization.jsonObject(with: Data(bytes[range]), options: [.fragmentsAllowed])) as? String ?? String(decoding: inner, as: UTF8.self)
    }
}
