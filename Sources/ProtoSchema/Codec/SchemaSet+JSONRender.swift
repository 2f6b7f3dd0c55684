import Foundation
import SwiftProtobuf

extension SchemaSet {
    /// A decoded message as proto3 JSON.
    func render(_ message: DynamicMessage) throws(CodecError) -> JSONValue {
        if let special = try renderWellKnown(message) { return special }
        let descriptor = try self.message(message.type)
        let proto3 = index.files[message.type].map { index.proto3Files.contains($0) } ?? false
        var members: [(String, JSONValue)] = []
        for field in descriptor.field {
            guard let values = message.values[field.number], !values.isEmpty else { continue }
            if field.label == .repeated {
                if let entry = mapEntry(field) {
                    var object: [(String, JSONValue)] = []
                    for case .message(let pair) in values {
                        let key = pair.values[1]?.first ?? defaultValue(entry.key)
                        let value = pair.values[2]?.first ?? defaultValue(entry.value)
                        object.append((try mapKeyText(key), try renderValue(value, field: entry.value)))
                    }
                    members.append((field.jsonName, .object(object)))
                } else {
                    members.append((field.jsonName, .array(try values.map { value throws(CodecError) in try renderValue(value, field: field) })))
                }
                continue
            }
            let value = values[0]
            let implicitPresence = proto3 && !field.proto3Optional && !field.hasOneofIndex && field.type != .message && field.type != .group
            if implicitPresence && value == defaultValue(field) { continue }
            members.append((field.jsonName, try renderValue(value, field: field)))
        }
        return .object(members)
    }

    func mapEntry(_ field: Google_Protobuf_FieldDescriptorProto) -> (key: Google_Protobuf_FieldDescriptorProto, value: Google_Protobuf_FieldDescriptorProto)? {
        guard field.type == .message, let entry = index.messages[DescriptorIndex.bare(field.typeName)], entry.options.mapEntry,
              let key = entry.field.first(where: { $0.number == 1 }), let value = entry.field.first(where: { $0.number == 2 }) else { return nil }
        return (key, value)
    }

    func defaultValue(_ field: Google_Protobuf_FieldDescriptorProto) -> DynamicValue {
        switch field.type {
        case .int32, .int64, .sint32, .sint64, .sfixed32, .sfixed64: .signed(0)
        case .uint32, .uint64, .fixed32, .fixed64: .unsigned(0)
        case .float: .float(0)
        case .double: .double(0)
        case .bool: .bool(false)
        case .string: .string("")
        case .bytes: .bytes([])
        case .enum: .enumeration(0)
        case .message, .group: .message(DynamicMessage(type: DescriptorIndex.bare(field.typeName)))
        }
    }

    private func mapKeyText(_ value: DynamicValue) throws(CodecError) -> String {
        switch value {
        case .signed(let v): String(v)
        case .unsigned(let v): String(v)
        case .bool(let v): v ? "true" : "false"
        case .string(let v): v
        default: throw CodecError(path: "map key", "unsupported map key \(value)")
        }
    }

    func renderValue(_ value: DynamicValue, field: Google_Protobuf_FieldDescriptorProto) throws(CodecError) -> JSONValue {
        switch value {
        case .signed(let v): return [.int64, .sint64, .sfixed64].contains(field.type) ? .string(String(v)) : .number(String(v))
        case .unsigned(let v): return [.uint64, .fixed64].contains(field.type) ? .string(String(v)) : .number(String(v))
        case .double(let v): return Self.number(v)
        case .float(let v): return v.isFinite ? .number("\(v)") : Self.number(Double(v))
        case .bool(let v): return .bool(v)
        case .string(let v): return .string(v)
        case .bytes(let v): return .string(Data(v).base64EncodedString())
        case .enumeration(let v):
            let enumName = DescriptorIndex.bare(field.typeName)
            if enumName == "google.protobuf.NullValue" { return .null }
            if let name = index.enums[enumName]?.value.first(where: { $0.number == v })?.name { return .string(name) }
            return .number(String(v))
        case .message(let inner): return try render(inner)
        }
    }

    static func number(_ value: Double) -> JSONValue {
        if value.isNaN { return .string("NaN") }
        if value.isInfinite { return .string(value < 0 ? "-Infinity" : "Infinity") }
        return .number("\(value)")
    }

    // MARK: Well-known types

    private func renderWellKnown(_ message: DynamicMessage) throws(CodecError) -> JSONValue? {
        func int(_ number: Int32) -> Int64 {
            if case .signed(let v)? = message.values[number]?.first { return v }
            return 0
        }
        switch message.type {
        case "google.protobuf.Timestamp":
            return .string(try Self.formatTimestamp(seconds: int(1), nanos: Int32(truncatingIfNeeded: int(2))))
        case "google.protobuf.Duration":
            return .string(try Self.formatDuration(seconds: int(1), nanos: Int32(truncatingIfNeeded: int(2))))
        case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
             "google.protobuf.Int32Value", "google.protobuf.UInt32Value", "google.protobuf.BoolValue", "google.protobuf.StringValue",
             "google.protobuf.BytesValue":
            let field = try self.message(message.type).field[0]
            return try renderValue(message.values[1]?.first ?? defaultValue(field), field: field)
        case "google.protobuf.Empty":
            return .object([])
        case "google.protobuf.FieldMask":
            var paths: [String] = []
            for case .string(let path) in message.values[1] ?? [] { paths.append(Linker.jsonName(path)) }
            return .string(paths.joined(separator: ","))
        case "google.protobuf.Struct":
            var members: [(String, JSONValue)] = []
            for case .message(let entry) in message.values[1] ?? [] {
                guard case .string(let key)? = entry.values[1]?.first else { continue }
                let value: JSONValue
                if case .message(let inner)? = entry.values[2]?.first { value = try render(inner) } else { value = .null }
                members.append((key, value))
            }
            return .object(members)
        case "google.protobuf.ListValue":
            var items: [JSONValue] = []
            for case .message(let inner) in message.values[1] ?? [] { items.append(try render(inner)) }
            return .array(items)
        case "google.protobuf.Value":
            if message.values[1] != nil { return .null }
            if case .double(let v)? = message.values[2]?.first { return Self.number(v) }
            if case .string(let v)? = message.values[3]?.first { return .string(v) }
            if case .bool(let v)? = message.values[4]?.first { return .bool(v) }
            if case .message(let v)? = message.values[5]?.first { return try render(v) }
            if case .message(let v)? = message.values[6]?.first { return try render(v) }
            return .null
        case "google.protobuf.Any":
            guard case .string(let url)? = message.values[1]?.first else { return .object([]) }
            let typeName = Self.typeName(fromURL: url)
            var bytes: [UInt8] = []
            if case .bytes(let packed)? = message.values[2]?.first { bytes = packed }
            guard contains(messageType: typeName) else {
                throw CodecError(path: "google.protobuf.Any", "the packed type \"\(typeName)\" is not in this schema")
            }
            let inner = try decode(bytes, type: typeName, path: typeName)
            let rendered = try render(inner)
            if case .object(let members) = rendered, try renderWellKnown(inner) == nil {
                return .object([("@type", .string(url))] + members)
            }
            return .object([("@type", .string(url)), ("value", rendered)])
        default:
            return nil
        }
    }

    /// The message name of an `Any` type URL: what follows the last `/` (the whole URL if none).
    static func typeName(fromURL url: String) -> String {
        guard let slash = url.lastIndex(of: "/") else { return url }
        return String(url[url.index(after: slash)...])
    }

    static func formatTimestamp(seconds: Int64, nanos: Int32) throws(CodecError) -> String {
        guard seconds >= -62_135_596_800, seconds <= 253_402_300_799, nanos >= 0, nanos < 1_000_000_000 else {
            throw CodecError(path: "google.protobuf.Timestamp", "timestamp \(seconds)s \(nanos)ns is outside 0001-01-01…9999-12-31")
        }
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondsOfDay = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var text = String(repeating: "0", count: max(0, 4 - String(year).count)) + "\(year)-\(two(month))-\(two(day))T"
        text += "\(two(secondsOfDay / 3600)):\(two(secondsOfDay / 60 % 60)):\(two(secondsOfDay % 60))"
        return text + fraction(nanos) + "Z"
    }

    static func formatDuration(seconds: Int64, nanos: Int32) throws(CodecError) -> String {
        guard abs(seconds) <= 315_576_000_000, abs(nanos) < 1_000_000_000, seconds == 0 || nanos == 0 || (seconds < 0) == (nanos < 0) else {
            throw CodecError(path: "google.protobuf.Duration", "duration \(seconds)s \(nanos)ns is out of range")
        }
        let negative = seconds < 0 || nanos < 0
        return (negative ? "-" : "") + "\(abs(seconds))" + fraction(abs(nanos)) + "s"
    }

    /// `.123`, `.123456` or `.123456789` (or nothing), as protobuf's JSON printer writes.
    static func fraction(_ nanos: Int32) -> String {
        guard nanos != 0 else { return "" }
        let digits = String(nanos)
        let nine = String(repeating: "0", count: 9 - digits.count) + digits
        if nanos % 1_000_000 == 0 { return "." + nine.prefix(3) }
        if nanos % 1_000 == 0 { return "." + nine.prefix(6) }
        return "." + nine
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// A proleptic Gregorian date to days since 1970-01-01.
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
