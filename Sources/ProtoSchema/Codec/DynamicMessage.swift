import SwiftProtobuf

/// One field value of a dynamically decoded message.
indirect enum DynamicValue: Equatable, Sendable {
    case signed(Int64)
    case unsigned(UInt64)
    case double(Double)
    case float(Float)
    case bool(Bool)
    case string(String)
    case bytes([UInt8])
    case enumeration(Int32)
    case message(DynamicMessage)
}

/// A message decoded against its descriptor: values by field number, in declaration order.
struct DynamicMessage: Equatable, Sendable {
    typealias FieldProto = Google_Protobuf_FieldDescriptorProto

    /// Full name of the message type.
    var type: String
    /// Values by field number (singular fields hold one value).
    var values: [Int32: [DynamicValue]] = [:]
}

extension SchemaSet {
    /// Decodes and validates binary protobuf for `type`: wire types must fit the fields, strings
    /// must be UTF-8, proto2 required fields must be present; unknown fields are skipped.
    func decode(_ bytes: [UInt8], type: String, path: String, depth: Int = 0) throws(CodecError) -> DynamicMessage {
        var reader = WireReader(bytes)
        return try decode(&reader, type: type, path: path, depth: depth, group: nil)
    }

    private func decode(_ reader: inout WireReader, type: String, path: String, depth: Int, group: Int32?) throws(CodecError) -> DynamicMessage {
        guard depth < 100 else { throw CodecError(path: path, "message nested more than 100 levels") }
        let descriptor = try message(type)
        var message = DynamicMessage(type: DescriptorIndex.bare(type))
        let byNumber = Dictionary(descriptor.field.map { ($0.number, $0) }, uniquingKeysWith: { first, _ in first })
        while !reader.isAtEnd {
            let tagAt = reader.position
            let tag = try reader.varint()
            let wireType = tag & 7
            let number = Int32(truncatingIfNeeded: tag >> 3)
            if wireType == 4 {
                guard let group, group == number else { throw CodecError(path: "\(path) (byte \(tagAt))", "unexpected end-group tag") }
                try checkRequired(message, descriptor: descriptor, path: path)
                return message
            }
            guard number > 0 else { throw CodecError(path: "\(path) (byte \(tagAt))", "invalid field number 0") }
            guard let field = byNumber[number] else {
                try reader.skip(tag, depth: depth)
                continue
            }
            let fieldPath = path + "." + field.name
            let values = try decodeValues(&reader, wireType: wireType, field: field, path: fieldPath, depth: depth)
            if field.label == .repeated {
                message.values[number, default: []] += values
            } else if case .message(let incoming) = values.last, case .message(var existing)? = message.values[number]?.first {
                // A singular message seen twice merges, as protobuf parsers do.
                for (key, value) in incoming.values {
                    let isRepeated = (try? self.message(existing.type).field.first { $0.number == key }?.label == .repeated) ?? false
                    existing.values[key] = isRepeated ? (existing.values[key] ?? []) + value : value
                }
                message.values[number] = [.message(existing)]
            } else {
                message.values[number] = [values.last!]
                // Setting one member of a oneof clears the others.
                if field.hasOneofIndex {
                    for other in descriptor.field where other.hasOneofIndex && other.oneofIndex == field.oneofIndex && other.number != number {
                        message.values[other.number] = nil
                    }
                }
            }
        }
        if group != nil { throw CodecError(path: path, "unterminated group") }
        try checkRequired(message, descriptor: descriptor, path: path)
        return message
    }

    private func checkRequired(_ message: DynamicMessage, descriptor: Google_Protobuf_DescriptorProto, path: String) throws(CodecError) {
        for field in descriptor.field where field.label == .required && message.values[field.number] == nil {
            throw CodecError(path: path + "." + field.name, "required field is missing")
        }
    }

    private func decodeValues(_ reader: inout WireReader, wireType: UInt64, field: DynamicMessage.FieldProto, path: String,
                              depth: Int) throws(CodecError) -> [DynamicValue] {
        let expected = Self.wireType(of: field.type)
        if wireType == 2, expected != 2, field.label == .repeated {
            // Packed repeated scalars.
            let range = try reader.lengthDelimited()
            var packed = WireReader(reader.bytes, from: range.lowerBound, to: range.upperBound)
            var values: [DynamicValue] = []
            while !packed.isAtEnd { values.append(try scalar(&packed, field: field, path: path)) }
            return values
        }
        guard wireType == expected else {
            throw CodecError(path: path, "wire type \(wireType) does not fit a \(OptionValue.typeName(field.type)) field (expects \(expected))")
        }
        switch field.type {
        case .message:
            let range = try reader.lengthDelimited()
            var inner = WireReader(reader.bytes, from: range.lowerBound, to: range.upperBound)
            return [.message(try decode(&inner, type: field.typeName, path: path, depth: depth + 1, group: nil))]
        case .group:
            return [.message(try decode(&reader, type: field.typeName, path: path, depth: depth + 1, group: field.number))]
        default:
            return [try scalar(&reader, field: field, path: path)]
        }
    }

    private func scalar(_ reader: inout WireReader, field: DynamicMessage.FieldProto, path: String) throws(CodecError) -> DynamicValue {
        switch field.type {
        case .int32: return .signed(Int64(Int32(truncatingIfNeeded: try reader.varint())))
        case .int64: return .signed(Int64(bitPattern: try reader.varint()))
        case .uint32: return .unsigned(UInt64(UInt32(truncatingIfNeeded: try reader.varint())))
        case .uint64: return .unsigned(try reader.varint())
        case .sint32: return .signed(Int64(Int32(truncatingIfNeeded: Self.unzigzag(try reader.varint()))))
        case .sint64: return .signed(Self.unzigzag(try reader.varint()))
        case .fixed32: return .unsigned(UInt64(try reader.fixed32()))
        case .fixed64: return .unsigned(try reader.fixed64())
        case .sfixed32: return .signed(Int64(Int32(bitPattern: try reader.fixed32())))
        case .sfixed64: return .signed(Int64(bitPattern: try reader.fixed64()))
        case .float: return .float(Float(bitPattern: try reader.fixed32()))
        case .double: return .double(Double(bitPattern: try reader.fixed64()))
        case .bool: return .bool(try reader.varint() != 0)
        case .enum: return .enumeration(Int32(truncatingIfNeeded: try reader.varint()))
        case .string:
            let range = try reader.lengthDelimited()
            guard let text = String(validating: reader.bytes[range], as: UTF8.self) else {
                throw CodecError(path: path, "string field holds invalid UTF-8")
            }
            return .string(text)
        case .bytes: return .bytes(Array(reader.bytes[try reader.lengthDelimited()]))
        case .message, .group: throw CodecError(path: path, "not a scalar")
        }
    }

    static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }

    static func wireType(of type: Google_Protobuf_FieldDescriptorProto.TypeEnum) -> UInt64 {
        switch type {
        case .double, .fixed64, .sfixed64: 1
        case .float, .fixed32, .sfixed32: 5
        case .string, .bytes, .message: 2
        case .group: 3
        default: 0
        }
    }
}
