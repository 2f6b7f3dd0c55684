import Foundation
import SwiftProtobuf

extension SchemaSet {
    /// JSON (proto3 mapping) to a dynamic message of `type`, with the path of any mismatch.
    func parse(_ json: JSONValue, type: String, path: String, depth: Int) throws(CodecError) -> DynamicMessage {
        guard depth < 100 else { throw CodecError(path: path, "JSON nested more than 100 levels") }
        if let special = try parseWellKnown(json, type: type, path: path, depth: depth) { return special }
        guard case .object(let members) = json else { throw CodecError(path: path, "expected a JSON object for \(type)") }
        let descriptor = try message(type)
        var message = DynamicMessage(type: type)
        var seenOneofs: [Int32: String] = [:]
        for (key, value) in members {
            guard let field = descriptor.field.first(where: { $0.jsonName == key || $0.name == key }) else {
                throw CodecError(path: path + "." + key, "\(type) has no field named \"\(key)\"")
            }
            let fieldPath = path + "." + field.name
            if value == .null && DescriptorIndex.bare(field.typeName) != "google.protobuf.Value" { continue }
            if field.hasOneofIndex, !field.proto3Optional {
                if let other = seenOneofs[field.oneofIndex] {
                    throw CodecError(path: fieldPath, "\"\(field.name)\" and \"\(other)\" are members of the same oneof")
                }
                seenOneofs[field.oneofIndex] = field.name
            }
            if field.label == .repeated {
                if let entry = mapEntry(field) {
                    guard case .object(let pairs) = value else { throw CodecError(path: fieldPath, "expected a JSON object for a map") }
                    var entries: [DynamicValue] = []
                    for (mapKey, mapValue) in pairs {
                        var pair = DynamicMessage(type: DescriptorIndex.bare(field.typeName))
                        pair.values[1] = [try parseMapKey(mapKey, field: entry.key, path: fieldPath + "[\(mapKey)]")]
                        pair.values[2] = [try parseValue(mapValue, field: entry.value, path: fieldPath + "[\(mapKey)]", depth: depth)]
                        entries.append(.message(pair))
                    }
                    message.values[field.number] = entries
                } else {
                    guard case .array(let items) = value else { throw CodecError(path: fieldPath, "expected a JSON array for a repeated field") }
                    var values: [DynamicValue] = []
                    for (position, item) in items.enumerated() {
                        values.append(try parseValue(item, field: field, path: fieldPath + "[\(position)]", depth: depth))
                    }
                    message.values[field.number] = values
                }
            } else {
                message.values[field.number] = [try parseValue(value, field: field, path: fieldPath, depth: depth)]
            }
        }
        for field in descriptor.field where field.label == .required && message.values[field.number] == nil {
            throw CodecError(path: path + "." + field.name, "required field is missing")
        }
        return message
    }

    private func parseMapKey(_ key: String, field: Google_Protobuf_FieldDescriptorProto, path: String) throws(CodecError) -> DynamicValue {
        switch field.type {
        case .string: return .string(key)
        case .bool:
            guard key == "true" || key == "false" else { throw CodecError(path: path, "map key must be \"true\" or \"false\"") }
            return .bool(key == "true")
        default: return try parseValue(.string(key), field: field, path: path, depth: 0)
        }
    }

    func parseValue(_ json: JSONValue, field: Google_Protobuf_FieldDescriptorProto, path: String, depth: Int) throws(CodecError) -> DynamicValue {
        let typeName = OptionValue.typeName(field.type)
        func integerText() throws(CodecError) -> String {
            switch json {
            case .number(let text), .string(let text):
                if let exact = Int64(text) { return String(exact) }
                if let exact = UInt64(text) { return String(exact) }
                // 1e3 or 5.0 are integers too, when exactly so.
                if let double = Double(text), double.rounded() == double, abs(double) < 1.8e19 {
                    return double < 0 ? String(Int64(double)) : String(UInt64(double))
                }
                throw CodecError(path: path, "\"\(text)\" is not an integer for a \(typeName) field")
            default: throw CodecError(path: path, "expected a number for a \(typeName) field")
            }
        }
        func signed(_ range: ClosedRange<Int64>) throws(CodecError) -> DynamicValue {
            guard let value = Int64(try integerText()), range.contains(value) else {
                throw CodecError(path: path, "value out of range for a \(typeName) field")
            }
            return .signed(value)
        }
        func unsigned(_ max: UInt64) throws(CodecError) -> DynamicValue {
            guard let value = UInt64(try integerText()), value <= max else {
                throw CodecError(path: path, "value out of range for a \(typeName) field")
            }
            return .unsigned(value)
        }
        func floating() throws(CodecError) -> Double {
            switch json {
            case .number(let text): if let v = Double(text) { return v }
            case .string("NaN"): return .nan
            case .string("Infinity"): return .infinity
            case .string("-Infinity"): return -.infinity
            case .string(let text): if let v = Double(text), !text.isEmpty { return v }
            default: break
            }
            throw CodecError(path: path, "expected a number for a \(typeName) field")
        }
        switch field.type {
        case .int32, .sint32, .sfixed32: return try signed(Int64(Int32.min)...Int64(Int32.max))
        case .int64, .sint64, .sfixed64: return try signed(Int64.min...Int64.max)
        case .uint32, .fixed32: return try unsigned(UInt64(UInt32.max))
        case .uint64, .fixed64: return try unsigned(UInt64.max)
        case .double: return .double(try floating())
        case .float:
            let value = try floating()
            guard !value.isFinite || abs(value) <= Double(Float.greatestFiniteMagnitude) else {
                throw CodecError(path: path, "value out of range for a float field")
            }
            return .float(Float(value))
        case .bool:
            guard case .bool(let value) = json else { throw CodecError(path: path, "expected true or false") }
            return .bool(value)
        case .string:
            guard case .string(let value) = json else { throw CodecError(path: path, "expected a JSON string") }
            return .string(value)
        case .bytes:
            guard case .string(let text) = json, let data = Self.base64(text) else {
                throw CodecError(path: path, "expected base64 text for a bytes field")
            }
            return .bytes(Array(data))
        case .enum:
            let enumName = DescriptorIndex.bare(field.typeName)
            if enumName == "google.protobuf.NullValue" { return .enumeration(0) }
            switch json {
            case .string(let name):
                guard let value = index.enums[enumName]?.value.first(where: { $0.name == name }) else {
                    throw CodecError(path: path, "enum \(enumName) has no value named \"\(name)\"")
                }
                return .enumeration(value.number)
            case .number(let text):
                guard let number = Int32(text) else { throw CodecError(path: path, "\"\(text)\" is not an enum number") }
                return .enumeration(number)
            default: throw CodecError(path: path, "expected an enum name or number")
            }
        case .message, .group:
            return .message(try parse(json, type: DescriptorIndex.bare(field.typeName), path: path, depth: depth + 1))
        }
    }

    static func base64(_ text: String) -> Data? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard)
    }

    // MARK: Well-known types

    private func parseWellKnown(_ json: JSONValue, type: String, path: String, depth: Int) throws(CodecError) -> DynamicMessage? {
        var message = DynamicMessage(type: type)
        switch type {
        case "google.protobuf.Timestamp":
            guard case .string(let text) = json else { throw CodecError(path: path, "expected an RFC 3339 timestamp string") }
            let (seconds, nanos) = try Self.parseTimestamp(text, path: path)
            if seconds != 0 { message.values[1] = [.signed(seconds)] }
            if nanos != 0 { message.values[2] = [.signed(Int64(nanos))] }
        case "google.protobuf.Duration":
            guard case .string(let text) = json, text.hasSuffix("s") else { throw CodecError(path: path, "expected a duration like \"1.5s\"") }
            let body = text.dropLast()
            let negative = body.hasPrefix("-")
            let digits = negative ? body.dropFirst() : body
            let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count <= 2, let whole = Int64(parts[0]), parts.count == 1 || (1...9).contains(parts[1].count),
                  parts.count == 1 || Int64(parts[1]) != nil else { throw CodecError(path: path, "\"\(text)\" is not a valid duration") }
            let fraction = parts.count == 2 ? Int32(parts[1] + String(repeating: "0", count: 9 - parts[1].count))! : 0
            guard whole <= 315_576_000_000 else { throw CodecError(path: path, "duration out of range") }
            if whole != 0 { message.values[1] = [.signed(negative ? -whole : whole)] }
            if fraction != 0 { message.values[2] = [.signed(Int64(negative ? -fraction : fraction))] }
        case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
             "google.protobuf.Int32Value", "google.protobuf.UInt32Value", "google.protobuf.BoolValue", "google.protobuf.StringValue",
             "google.protobuf.BytesValue":
            let field = try self.message(type).field[0]
            message.values[1] = [try parseValue(json, field: field, path: path, depth: depth)]
        case "google.protobuf.FieldMask":
            guard case .string(let text) = json else { throw CodecError(path: path, "expected a comma-separated field mask") }
            message.values[1] = text.split(separator: ",").map { .string(Self.snakeCase(String($0))) }
        case "google.protobuf.Struct":
            guard case .object(let members) = json else { throw CodecError(path: path, "expected a JSON object for a Struct") }
            message.values[1] = try members.map { (key, value) throws(CodecError) in
                var entry = DynamicMessage(type: "google.protobuf.Struct.FieldsEntry")
                entry.values[1] = [.string(key)]
                entry.values[2] = [.message(try parse(value, type: "google.protobuf.Value", path: path + "." + key, depth: depth + 1))]
                return .message(entry)
            }
        case "google.protobuf.ListValue":
            guard case .array(let items) = json else { throw CodecError(path: path, "expected a JSON array for a ListValue") }
            message.values[1] = try items.enumerated().map { (position, item) throws(CodecError) in
                .message(try parse(item, type: "google.protobuf.Value", path: path + "[\(position)]", depth: depth + 1))
            }
        case "google.protobuf.Value":
            switch json {
            case .null: message.values[1] = [.enumeration(0)]
            case .number(let text): message.values[2] = [.double(Double(text) ?? 0)]
            case .string(let text): message.values[3] = [.string(text)]
            case .bool(let value): message.values[4] = [.bool(value)]
            case .object: message.values[5] = [.message(try parse(json, type: "google.protobuf.Struct", path: path, depth: depth + 1))]
            case .array: message.values[6] = [.message(try parse(json, type: "google.protobuf.ListValue", path: path, depth: depth + 1))]
            }
        case "google.protobuf.Any":
            guard case .object(let members) = json else { throw CodecError(path: path, "expected a JSON object for an Any") }
            guard case .string(let url)? = members.first(where: { $0.0 == "@type" })?.1 else {
                if members.isEmpty { return message }
                throw CodecError(path: path, "an Any needs \"@type\"")
            }
            let typeName = Self.typeName(fromURL: url)
            guard contains(messageType: typeName) else { throw CodecError(path: path, "the packed type \"\(typeName)\" is not in this schema") }
            let rest = members.filter { $0.0 != "@type" }
            let isWellKnown = typeName.hasPrefix("google.protobuf.") && ["Timestamp", "Duration", "FieldMask", "Struct", "ListValue", "Value",
                "DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value", "UInt32Value", "BoolValue", "StringValue",
                "BytesValue"].contains(typeName.dropFirst("google.protobuf.".count))
            let body: JSONValue = isWellKnown ? (rest.first(where: { $0.0 == "value" })?.1 ?? .null) : .object(rest)
            let inner = try parse(body, type: typeName, path: path + "<\(typeName)>", depth: depth + 1)
            message.values[1] = [.string(url)]
            message.values[2] = [.bytes(try encode(inner))]
        case "google.protobuf.Empty":
            guard case .object(let members) = json, members.isEmpty else { throw CodecError(path: path, "expected {} for Empty") }
        default:
            return nil
        }
        return message
    }

    static func snakeCase(_ camel: String) -> String {
        var result = ""
        for character in camel {
            if character.isUppercase { result += "_" + character.lowercased() } else { result.append(character) }
        }
        return result
    }

    static func parseTimestamp(_ text: String, path: String) throws(CodecError) -> (Int64, Int32) {
        let bytes = Array(text.utf8)
        func fail() -> CodecError { CodecError(path: path, "\"\(text)\" is not an RFC 3339 timestamp (e.g. 2026-11-21T04:40:00Z)") }
        func number(_ range: Range<Int>) throws(CodecError) -> Int64 {
            guard range.upperBound <= bytes.count, let value = Int64(String(decoding: bytes[range], as: UTF8.self)) else { throw fail() }
            return value
        }
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { throw fail() }
        let year = try number(0..<4), month = try number(5..<7), day = try number(8..<10)
        let hour = try number(11..<13), minute = try number(14..<16), second = try number(17..<19)
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { throw fail() }
        var position = 19
        var nanos: Int32 = 0
        if bytes[position] == UInt8(ascii: ".") {
            position += 1
            let start = position
            while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") { position += 1 }
            guard (1...9).contains(position - start) else { throw fail() }
            let digits = String(decoding: bytes[start..<position], as: UTF8.self)
            nanos = Int32(digits + String(repeating: "0", count: 9 - digits.count))!
        }
        var offset: Int64 = 0
        guard position < bytes.count else { throw fail() }
        if bytes[position] == UInt8(ascii: "Z") {
            position += 1
        } else if bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
            guard position + 6 == bytes.count, bytes[position + 3] == UInt8(ascii: ":") else { throw fail() }
            let sign: Int64 = bytes[position] == UInt8(ascii: "+") ? 1 : -1
            offset = sign * (try number((position + 1)..<(position + 3)) * 3600 + number((position + 4)..<(position + 6)) * 60)
            position += 6
        } else {
            throw fail()
        }
        guard position == bytes.count else { throw fail() }
        let seconds = days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return (seconds, nanos)
    }
}
