import SwiftProtobuf

extension SchemaSet {
    /// Serialises a dynamic message: fields in number order, proto3 numeric repeated fields packed.
    func encode(_ message: DynamicMessage) throws(CodecError) -> [UInt8] {
        let descriptor = try self.message(message.type)
        let proto3 = index.files[message.type].map { index.proto3Files.contains($0) } ?? false
        var writer = WireWriter()
        for field in descriptor.field.sorted(by: { $0.number < $1.number }) {
            guard let values = message.values[field.number], !values.isEmpty else { continue }
            let packable = Self.wireType(of: field.type) != 2 && field.type != .group
            let packed = field.label == .repeated && packable && (field.options.hasPacked ? field.options.packed : proto3)
            if packed {
                var body = WireWriter()
                for value in values { try writeScalar(value, field: field, into: &body) }
                writer.tag(field.number, .lengthDelimited)
                writer.lengthDelimited(body.bytes)
                continue
            }
            for value in values {
                switch (field.type, value) {
                case (.message, .message(let inner)):
                    writer.tag(field.number, .lengthDelimited)
                    writer.lengthDelimited(try encode(inner))
                case (.group, .message(let inner)):
                    writer.tag(field.number, .startGroup)
                    writer.append(try encode(inner))
                    writer.tag(field.number, .endGroup)
                default:
                    writer.tag(field.number, WireWriter.WireType(rawValue: Self.wireType(of: field.type))!)
                    try writeScalar(value, field: field, into: &writer)
                }
            }
        }
        return writer.bytes
    }

    private func writeScalar(_ value: DynamicValue, field: Google_Protobuf_FieldDescriptorProto, into writer: inout WireWriter) throws(CodecError) {
        switch (field.type, value) {
        case (.int32, .signed(let v)), (.int64, .signed(let v)): writer.varint(UInt64(bitPattern: v))
        case (.enum, .enumeration(let v)): writer.varint(UInt64(bitPattern: Int64(v)))
        case (.uint32, .unsigned(let v)), (.uint64, .unsigned(let v)): writer.varint(v)
        case (.sint32, .signed(let v)): writer.varint(WireWriter.zigzag32(Int32(truncatingIfNeeded: v)))
        case (.sint64, .signed(let v)): writer.varint(WireWriter.zigzag64(v))
        case (.fixed32, .unsigned(let v)): writer.fixed32(UInt32(truncatingIfNeeded: v))
        case (.fixed64, .unsigned(let v)): writer.fixed64(v)
        case (.sfixed32, .signed(let v)): writer.fixed32(UInt32(bitPattern: Int32(truncatingIfNeeded: v)))
        case (.sfixed64, .signed(let v)): writer.fixed64(UInt64(bitPattern: v))
        case (.float, .float(let v)): writer.fixed32(v.bitPattern)
        case (.double, .double(let v)): writer.fixed64(v.bitPattern)
        case (.bool, .bool(let v)): writer.varint(v ? 1 : 0)
        case (.string, .string(let v)): writer.lengthDelimited(Array(v.utf8))
        case (.bytes, .bytes(let v)): writer.lengthDelimited(v)
        default: throw CodecError(path: field.name, "value \(value) does not fit a \(OptionValue.typeName(field.type)) field")
        }
    }
}
