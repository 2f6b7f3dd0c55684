/// Escapes and unescapes string literals as protoc does (C escapes).
enum StringLiteral {
    /// The bytes of a quoted string token (quotes removed, escapes resolved).
    static func unescape(_ token: Token) throws(CompileError) -> [UInt8] {
        let text = Array(token.text.utf8)
        var bytes: [UInt8] = []
        var index = 1
        let end = text.count - 1
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while index < end {
            let byte = text[index]
            index += 1
            guard byte == UInt8(ascii: "\\"), index < end else {
                bytes.append(byte)
                continue
            }
            let escape = text[index]
            index += 1
            switch escape {
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "a"): bytes.append(0x07)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "v"): bytes.append(0x0B)
            case UInt8(ascii: "x"), UInt8(ascii: "X"):
                var value: UInt32 = 0
                var digits = 0
                while digits < 2, index < end, let digit = hexValue(text[index]) {
                    value = value * 16 + UInt32(digit)
                    index += 1
                    digits += 1
                }
                guard digits > 0 else { throw CompileError(token.location, "Expected hex digits for escape sequence.") }
                bytes.append(UInt8(value))
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = UInt32(escape - UInt8(ascii: "0"))
                var digits = 1
                while digits < 3, index < end, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "7") {
                    value = value * 8 + UInt32(text[index] - UInt8(ascii: "0"))
                    index += 1
                    digits += 1
                }
                bytes.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let count = escape == UInt8(ascii: "u") ? 4 : 8
                var value: UInt32 = 0
                for _ in 0..<count {
                    guard index < end, let digit = hexValue(text[index]) else {
                        throw CompileError(token.location, "Expected four hex digits for \\u escape sequence.")
                    }
                    value = value * 16 + UInt32(digit)
                    index += 1
                }
                guard let scalar = Unicode.Scalar(value) else { throw CompileError(token.location, "Invalid unicode escape.") }
                bytes += Array(String(Character(scalar)).utf8)
            default:
                bytes.append(escape)  // \\ \' \" \?
            }
        }
        return bytes
    }

    /// protoc's CEscape: printable ASCII as is, `\n \r \t \" \' \\` escaped, the rest as 3-digit octal.
    static func cEscape(_ bytes: [UInt8]) -> String {
        var result = ""
        for byte in bytes {
            switch byte {
            case 0x0A: result += "\\n"
            case 0x0D: result += "\\r"
            case 0x09: result += "\\t"
            case 0x22: result += "\\\""
            case 0x27: result += "\\'"
            case 0x5C: result += "\\\\"
            case 0x20..<0x7F: result.append(Character(Unicode.Scalar(byte)))
            default:
                let octal = String(byte, radix: 8)
                result += "\\" + String(repeating: "0", count: 3 - octal.count) + octal
            }
        }
        return result
    }
}
