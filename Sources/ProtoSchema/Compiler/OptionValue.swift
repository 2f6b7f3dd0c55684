import Foundation
import SwiftProtobuf

/// Encodes one option's value as the wire bytes of its field (tag included).
struct OptionValue {
    let index: DescriptorIndex
    let file: String

    private func fail(_ message: String) -> CompileError {
        CompileError(SourceLocation(file: file, line: 1, column: 1), message)
    }

    func write(_ option: Google_Protobuf_UninterpretedOption, field: Google_Protobuf_FieldDescriptorProto, display: String,
               into writer: inout WireWriter) throws {
        let typeName = Self.typeName(field.type)
        func integer(min: Int64, max: UInt64) throws -> (Int64?, UInt64?) {
            if option.hasPositiveIntValue {
                guard option.positiveIntValue <= max else { throw fail("Value out of range for \(typeName) option \"\(display)\".") }
                return (nil, option.positiveIntValue)
            }
            if option.hasNegativeIntValue {
                guard min < 0 else { throw fail("Value must be non-negative integer for \(typeName) option \"\(display)\".") }
                guard option.negativeIntValue >= min else { throw fail("Value out of range for \(typeName) option \"\(display)\".") }
                return (option.negativeIntValue, nil)
            }
            throw fail("Value must be integer for \(typeName) option \"\(display)\".")
        }
        func signed(min: Int64, max: Int64) throws -> Int64 {
            let (negative, positive) = try integer(min: min, max: UInt64(max))
            return negative ?? Int64(positive!)
        }
        func unsigned(max: UInt64) throws -> UInt64 {
            let (_, positive) = try integer(min: 0, max: max)
            return positive!
        }
        func number() throws -> Double {
            if option.hasDoubleValue { return option.doubleValue }
            if option.hasPositiveIntValue { return Double(option.positiveIntValue) }
            if option.hasNegativeIntValue { return Double(option.negativeIntValue) }
            if option.hasIdentifierValue, option.identifierValue == "inf" { return .infinity }
            if option.hasIdentifierValue, option.identifierValue == "nan" { return .nan }
            throw fail("Value must be number for \(typeName) option \"\(display)\".")
        }
        switch field.type {
        case .int32:
            writer.tag(field.number, .varint)
            writer.varint(UInt64(bitPattern: try signed(min: Int64(Int32.min), max: Int64(Int32.max))))
        case .int64:
            writer.tag(field.number, .varint)
            writer.varint(UInt64(bitPattern: try signed(min: Int64.min, max: Int64.max)))
        case .sint32:
            writer.tag(field.number, .varint)
            writer.varint(WireWriter.zigzag32(Int32(try signed(min: Int64(Int32.min), max: Int64(Int32.max)))))
        case .sint64:
            writer.tag(field.number, .varint)
            writer.varint(WireWriter.zigzag64(try signed(min: Int64.min, max: Int64.max)))
        case .sfixed32:
            writer.tag(field.number, .fixed32)
            writer.fixed32(UInt32(bitPattern: Int32(try signed(min: Int64(Int32.min), max: Int64(Int32.max)))))
        case .sfixed64:
            writer.tag(field.number, .fixed64)
            writer.fixed64(UInt64(bitPattern: try signed(min: Int64.min, max: Int64.max)))
        case .uint32:
            writer.tag(field.number, .varint)
            writer.varint(try unsigned(max: UInt64(UInt32.max)))
        case .uint64:
            writer.tag(field.number, .varint)
            writer.varint(try unsigned(max: UInt64.max))
        case .fixed32:
            writer.tag(field.number, .fixed32)
            writer.fixed32(UInt32(try unsigned(max: UInt64(UInt32.max))))
        case .fixed64:
            writer.tag(field.number, .fixed64)
            writer.fixed64(try unsigned(max: UInt64.max))
        case .float:
            writer.tag(field.number, .fixed32)
            writer.fixed32(Float(try number()).bitPattern)
        case .double:
            writer.tag(field.number, .fixed64)
            writer.fixed64(try number().bitPattern)
        case .bool:
            guard option.hasIdentifierValue, option.identifierValue == "true" || option.identifierValue == "false" else {
                throw fail("Value must be \"true\" or \"false\" for boolean option \"\(display)\".")
            }
            writer.tag(field.number, .varint)
            writer.varint(option.identifierValue == "true" ? 1 : 0)
        case .enum:
            let enumName = DescriptorIndex.bare(field.typeName)
            guard option.hasIdentifierValue else {
                throw fail("Value must be identifier for enum-valued option \"\(display)\".")
            }
            guard let value = index.enums[enumName]?.value.first(where: { $0.name == option.identifierValue }) else {
                throw fail("Enum type \"\(enumName)\" has no value named \"\(option.identifierValue)\" for option \"\(display)\".")
            }
            writer.tag(field.number, .varint)
            writer.varint(UInt64(bitPattern: Int64(value.number)))
        case .string, .bytes:
            guard option.hasStringValue else {
                throw fail("Value must be quoted string for \(typeName) option \"\(display)\".")
            }
            writer.tag(field.number, .lengthDelimited)
            writer.lengthDelimited(Array(option.stringValue))
        case .message, .group:
            guard option.hasAggregateValue else {
                throw fail("Option \"\(display)\" is a message. To set the entire message, use syntax like \"\(display) = { <proto text format> }\". To set fields within it, use syntax like \"\(display).foo = value\".")
            }
            let body = try TextFormatEncoder(index: index, file: file).encode(option.aggregateValue, messageType: DescriptorIndex.bare(field.typeName))
            if field.type == .group {
                writer.tag(field.number, .startGroup)
                writer.append(body)
                writer.tag(field.number, .endGroup)
            } else {
                writer.tag(field.number, .lengthDelimited)
                writer.lengthDelimited(body)
            }
        }
    }

    static func typeName(_ type: Google_Protobuf_FieldDescriptorProto.TypeEnum) -> String {
        switch type {
        case .double: "double"
        case .float: "float"
        case .int64: "int64"
        case .uint64: "uint64"
        case .int32: "int32"
        case .fixed64: "fixed64"
        case .fixed32: "fixed32"
        case .bool: "bool"
        case .string: "string"
        case .group: "group"
        case .message: "message"
        case .bytes: "bytes"
        case .uint32: "uint32"
        case .enum: "enum"
        case .sfixed32: "sfixed32"
        case .sfixed64: "sfixed64"
        case .sint32: "sint32"
        case .sint64: "sint64"
        }
    }
}
