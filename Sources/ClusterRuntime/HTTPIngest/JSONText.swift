/// Writes the small JSON answers of HTTP ingest by hand: Foundation's `JSONSerialization` took a
/// seventh of the node's time per single-event request (`ganglion bench --http`, profiled).
enum JSONText {
    /// A JSON value to write.
    enum Value {
        case string(String)
        case int(Int64)
        case bool(Bool)
        case array([Value])
        case object([(String, Value)])
    }

    /// `value` as compact JSON text.
    static func write(_ value: Value) -> String {
        var text = ""
        write(value, into: &text)
        return text
    }

    private static func write(_ value: Value, into text: inout String) {
        switch value {
        case .string(let string): quote(string, into: &text)
        case .int(let number): text += String(number)
        case .bool(let flag): text += flag ? "true" : "false"
        case .array(let values):
            text += "["
            for (index, element) in values.enumerated() {
                if index > 0 { text += "," }
                write(element, into: &text)
            }
            text += "]"
        case .object(let members):
            text += "{"
            for (index, (name, element)) in members.enumerated() {
                if index > 0 { text += "," }
                quote(name, into: &text)
                text += ":"
                write(element, into: &text)
            }
            text += "}"
        }
    }

    /// `string` as a JSON string: quotes, backslashes and control characters escaped.
    static func quote(_ string: String, into text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
