import Foundation
import SwiftProtobuf

extension Linker {
    /// protoc's JSON name: underscores removed, the letter after each capitalised.
    static func jsonName(_ name: String) -> String {
        var result = ""
        var capitalizeNext = false
        for character in name {
            if character == "_" {
                capitalizeNext = true
            } else if capitalizeNext {
                result += character.uppercased()
                capitalizeNext = false
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// Checks a linked file as protoc's descriptor builder does, and fills in what protoc's
    /// descriptor-set output carries (JSON names, canonical default values).
    mutating func validate(_ file: inout Google_Protobuf_FileDescriptorProto, locations: SourceLocations) {
        let name = file.name
        let proto3 = file.syntax == "proto3"
        let index = DescriptorIndex(files.values.map(\.proto))
        for position in file.messageType.indices {
            validate(&file.messageType[position], scope: file.package, file: name, proto3: proto3, index: index)
        }
        for position in file.enumType.indices {
            validate(file.enumType[position], scope: file.package, file: name, proto3: proto3)
        }
        for position in file.extension.indices {
            validateExtension(&file.extension[position], scope: file.package, file: name, proto3: proto3, index: index)
        }
        for dependency in file.dependency where files[dependency] == nil {
            fail(location(name) { $0.imports[dependency] }, "Import \"\(dependency)\" was not found or had errors.")
        }
    }

    private mutating func validate(_ message: inout MessageProto, scope: String, file: String, proto3: Bool, index: DescriptorIndex) {
        let full = Parser.join(scope, message.name)
        var numbers: [Int32: String] = [:]
        var jsonNames: [String: String] = [:]
        for position in message.field.indices {
            validateField(&message.field[position], in: message, messageName: full, file: file, proto3: proto3, index: index)
            let field = message.field[position]
            let fieldName = full + "." + field.name
            if let previous = numbers[field.number] {
                fail(location(file) { $0.numbers[fieldName] }, "Field number \(field.number) has already been used in \"\(full)\" by field \"\(previous)\".")
            } else {
                numbers[field.number] = field.name
            }
            if proto3 {
                let json = Self.jsonName(field.name).lowercased()
                if let other = jsonNames[json] {
                    fail(location(file) { $0.declarations[fieldName] }, "The JSON camel-case name of field \"\(field.name)\" conflicts with field \"\(other)\". This is not allowed in proto3.")
                } else {
                    jsonNames[json] = field.name
                }
            }
            for range in message.reservedRange where field.number >= range.start && field.number < range.end {
                fail(location(file) { $0.numbers[fieldName] }, "Field \"\(field.name)\" uses reserved number \(field.number).")
            }
            if message.reservedName.contains(field.name) {
                fail(location(file) { $0.declarations[fieldName] }, "Field name \"\(field.name)\" is reserved.")
            }
            for range in message.extensionRange where field.number >= range.start && field.number < range.end {
                fail(location(file) { $0.numbers[fieldName] }, "Extension range \(range.start) to \(range.end - 1) includes field \"\(field.name)\" (\(field.number)).")
            }
        }
        if proto3, !message.extensionRange.isEmpty {
            fail(location(file) { $0.declarations[full] }, "Extension ranges are not allowed in proto3.")
        }
        for (position, range) in message.extensionRange.enumerated() {
            let at = location(file) { $0.numbers[full + "#extensions\(position)"] ?? $0.declarations[full] }
            if range.start <= 0 || range.end <= range.start {
                fail(at, "Extension numbers must be positive integers.")
            }
            for reserved in message.reservedRange where range.start < reserved.end && reserved.start < range.end {
                fail(at, "Extension range \(range.start) to \(range.end - 1) overlaps with reserved range \(reserved.start) to \(reserved.end - 1).")
            }
            for other in message.extensionRange[..<position] where range.start < other.end && other.start < range.end {
                fail(at, "Extension range \(range.start) to \(range.end - 1) overlaps with already-defined range \(other.start) to \(other.end - 1).")
            }
        }
        for (position, range) in message.reservedRange.enumerated() {
            for other in message.reservedRange[..<position] where range.start < other.end && other.start < range.end {
                fail(location(file) { $0.declarations[full] }, "Reserved range \(range.start) to \(range.end - 1) overlaps with already-defined range \(other.start) to \(other.end - 1).")
            }
        }
        for position in message.extension.indices {
            validateExtension(&message.extension[position], scope: full, file: file, proto3: proto3, index: index)
        }
        for position in message.nestedType.indices {
            validate(&message.nestedType[position], scope: full, file: file, proto3: proto3, index: index)
        }
        for enumeration in message.enumType { validate(enumeration, scope: full, file: file, proto3: proto3) }
    }

    private mutating func validateField(_ field: inout FieldProto, in message: MessageProto?, messageName: String, file: String,
                                        proto3: Bool, index: DescriptorIndex) {
        let fieldName = Parser.join(messageName, field.name)
        let numberAt = location(file) { $0.numbers[fieldName] ?? $0.declarations[fieldName] }
        let nameAt = location(file) { $0.declarations[fieldName] }
        if !field.hasJsonName { field.jsonName = Self.jsonName(field.name) }
        checkFieldOptions(field, fullName: fieldName, file: file, index: index)
        if let message, message.options.messageSetWireFormat {
            fail(nameAt, "MessageSets cannot have fields, only extensions.")
        }
        if field.number <= 0 {
            fail(numberAt, "Field numbers must be positive integers.")
        } else if field.number > Self.maxFieldNumber && !(field.hasExtendee && isMessageSetExtendee(field, index: index)) {
            fail(numberAt, "Field numbers cannot be greater than \(Self.maxFieldNumber).")
        } else if (19000...19999).contains(field.number) {
            fail(numberAt, "Field numbers 19000 through 19999 are reserved for the protocol buffer library implementation.")
        }
        if proto3 {
            if field.label == .required { fail(nameAt, "Required fields are not allowed in proto3.") }
            if field.hasDefaultValue { fail(location(file) { $0.defaults[fieldName] } , "Explicit default values are not allowed in proto3.") }
            if field.type == .enum, let enumFile = index.files[DescriptorIndex.bare(field.typeName)], !index.proto3Files.contains(enumFile) {
                fail(location(file) { $0.typeReferences[fieldName] }, "Enum type \"\(DescriptorIndex.bare(field.typeName))\" is not a proto3 enum, but is used in \"\(messageName)\" which is a proto3 message type.")
            }
        }
        if field.type == .message, let entry = index.messages[DescriptorIndex.bare(field.typeName)], entry.options.mapEntry,
           let key = entry.field.first(where: { $0.number == 1 }) {
            if [.float, .double, .bytes, .message, .group, .enum].contains(key.type) {
                fail(location(file) { $0.typeReferences[fieldName + "Entry.key"] ?? $0.declarations[fieldName] }, "Key in map fields cannot be float/double, bytes or message types.")
            }
        }
        if field.hasDefaultValue {
            let at = location(file) { $0.defaults[fieldName] }
            if field.label == .repeated {
                fail(at, "Repeated fields can't have default values.")
            } else if field.type == .message || field.type == .group {
                fail(at, "Messages can't have default values.")
            } else if let canonical = canonicalDefault(field, index: index) {
                field.defaultValue = canonical
            } else {
                fail(at, field.type == .enum
                     ? "Enum type \"\(DescriptorIndex.bare(field.typeName))\" has no value named \"\(field.defaultValue)\"."
                     : "Default value \"\(field.defaultValue)\" is out of range for a \(OptionValue.typeName(field.type)) field.")
            }
        }
    }

    private func isMessageSetExtendee(_ field: FieldProto, index: DescriptorIndex) -> Bool {
        index.messages[DescriptorIndex.bare(field.extendee)]?.options.messageSetWireFormat ?? false
    }

    private mutating func validateExtension(_ field: inout FieldProto, scope: String, file: String, proto3: Bool, index: DescriptorIndex) {
        validateField(&field, in: nil, messageName: scope, file: file, proto3: proto3, index: index)
        let extendee = DescriptorIndex.bare(field.extendee)
        let at = location(file) { $0.numbers[Parser.join(scope, field.name)] }
        guard let target = index.messages[extendee] else { return }
        if !target.extensionRange.contains(where: { field.number >= $0.start && field.number < $0.end }) {
            fail(at, "\"\(extendee)\" does not declare \(field.number) as an extension number.")
        }
        if proto3, !extendee.hasPrefix("google.protobuf.") || !extendee.hasSuffix("Options") {
            fail(location(file) { $0.typeReferences[Parser.join(scope, field.name) + "#extendee"] }, "Extensions in proto3 are only allowed for defining options.")
        }
        if field.label == .required { fail(at, "The extension \(Parser.join(scope, field.name)) cannot be required.") }
    }

    private mutating func validate(_ enumeration: Google_Protobuf_EnumDescriptorProto, scope: String, file: String, proto3: Bool) {
        let full = Parser.join(scope, enumeration.name)
        if enumeration.value.isEmpty {
            fail(location(file) { $0.declarations[full] }, "Enums must contain at least one value.")
            return
        }
        if proto3, enumeration.value[0].number != 0 {
            fail(location(file) { $0.numbers[full + "." + enumeration.value[0].name] }, "The first enum value must be zero in proto3.")
        }
        var seen: [Int32: String] = [:]
        for value in enumeration.value {
            let valueAt = location(file) { $0.numbers[full + "." + value.name] }
            if let previous = seen[value.number], !enumeration.options.allowAlias {
                fail(valueAt, "\"\(Parser.join(scope, value.name))\" uses the same enum value as \"\(Parser.join(scope, previous))\". If this is intended, set 'option allow_alias = true;' to the enum definition.")
            } else if seen[value.number] == nil {
                seen[value.number] = value.name
            }
            for range in enumeration.reservedRange where value.number >= range.start && value.number <= range.end {
                fail(valueAt, "Enum value \"\(value.name)\" uses reserved number \(value.number).")
            }
            if enumeration.reservedName.contains(value.name) {
                fail(location(file) { $0.declarations[full + "." + value.name] }, "Enum value \"\(value.name)\" is reserved.")
            }
        }
        if enumeration.options.allowAlias, Set(enumeration.value.map(\.number)).count == enumeration.value.count {
            fail(location(file) { $0.declarations[full] }, "\"\(full)\" declares 'option allow_alias = true;', but does not have any aliases. If this is intended, set 'option allow_alias = false;' or remove the option.")
        }
    }

    /// The default as protoc's descriptor output writes it, or `nil` when it is invalid.
    private func canonicalDefault(_ field: FieldProto, index: DescriptorIndex) -> String? {
        let text = field.defaultValue
        switch field.type {
        case .int32, .sint32, .sfixed32: return Self.integer(text).flatMap { Int32(exactly: $0) }.map { String($0) }
        case .int64, .sint64, .sfixed64: return Self.integer(text).map { String($0) }
        case .uint32, .fixed32: return Self.unsigned(text).flatMap { UInt32(exactly: $0) }.map { String($0) }
        case .uint64, .fixed64: return Self.unsigned(text).map { String($0) }
        case .double: return Self.parseDefaultFloat(text).map { Self.formatDouble($0) }
        case .float: return Self.parseDefaultFloat(text).map { Self.formatFloat(Float($0)) }
        case .bool, .string, .bytes: return text
        case .enum:
            let values = index.enums[DescriptorIndex.bare(field.typeName)]?.value ?? []
            return values.contains { $0.name == text } ? text : nil
        default: return nil
        }
    }

    private static func integer(_ text: String) -> Int64? {
        let negative = text.hasPrefix("-")
        guard let magnitude = Parser.parseInteger(negative ? String(text.dropFirst()) : text) else { return nil }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? (magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    private static func unsigned(_ text: String) -> UInt64? { text.hasPrefix("-") ? nil : Parser.parseInteger(text) }

    private static func parseDefaultFloat(_ text: String) -> Double? {
        switch text {
        case "inf": .infinity
        case "-inf": -.infinity
        case "nan", "-nan": .nan
        default:
            if text.hasPrefix("-") { Parser.parseFloat(String(text.dropFirst())).map { -$0 } ?? Parser.parseInteger(String(text.dropFirst())).map { -Double($0) } }
            else { Parser.parseFloat(text) ?? Parser.parseInteger(text).map { Double($0) } }
        }
    }

    /// protoc's SimpleDtoa: `%.15g`, or `%.17g` when that does not round-trip.
    static func formatDouble(_ value: Double) -> String {
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value.isNaN { return "nan" }
        let short = String(format: "%.15g", value)
        return Double(short) == value ? short : String(format: "%.17g", value)
    }

    /// protoc's SimpleFtoa: `%.6g`, or `%.9g` when that does not round-trip.
    static func formatFloat(_ value: Float) -> String {
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value.isNaN { return "nan" }
        let short = String(format: "%.6g", Double(value))
        return Float(short) == value ? short : String(format: "%.9g", Double(value))
    }
}
