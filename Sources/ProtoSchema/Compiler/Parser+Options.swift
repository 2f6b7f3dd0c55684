import SwiftProtobuf

extension Parser {
    typealias Uninterpreted = Google_Protobuf_UninterpretedOption

    /// `name = value ;` after the keyword `option`.
    mutating func optionStatement(owner: String) throws(CompileError) -> Uninterpreted {
        let option = try optionAssignment(owner: owner)
        try expect(";", "Expected \";\".")
        return option
    }

    /// `name = value` (in a statement or inside `[...]`).
    mutating func optionAssignment(owner: String) throws(CompileError) -> Uninterpreted {
        var option = Uninterpreted()
        locations.options[owner, default: []].append(current.location)
        repeat {
            var part = Uninterpreted.NamePart()
            if accept("(") {
                var name = accept(".") ? "." : ""
                name += try identifier()
                while accept(".") { name += "." + (try identifier()) }
                try expect(")")
                part.namePart = name
                part.isExtension = true
            } else {
                part.namePart = try identifier()
                part.isExtension = false
            }
            option.name.append(part)
        } while accept(".")
        try expect("=")
        try optionValue(&option)
        return option
    }

    private mutating func optionValue(_ option: inout Uninterpreted) throws(CompileError) {
        if accept("-") {
            switch current.kind {
            case .integer:
                let token = current
                let magnitude = try integer()
                guard magnitude <= UInt64(Int64.max) + 1 else { throw error("Integer out of range.", at: token) }
                option.negativeIntValue = magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
            case .float:
                option.doubleValue = -(Self.parseFloat(next().text) ?? 0)
            case .identifier where current.text == "inf" || current.text == "nan":
                option.doubleValue = next().text == "inf" ? -.infinity : .nan
            default:
                throw error("Expected number.")
            }
            return
        }
        switch current.kind {
        case .identifier:
            option.identifierValue = next().text
        case .integer:
            option.positiveIntValue = try integer()
        case .float:
            option.doubleValue = Self.parseFloat(next().text) ?? 0
        case .string:
            option.stringValue = Data(try stringBytes())
        case .symbol where current.text == "{":
            let open = next()
            option.aggregateValue = try aggregateText(opening: open)
        default:
            throw error("Expected option value.")
        }
    }

    /// The tokens of an aggregate value up to its closing brace (counting braces only, as protoc
    /// does), joined as protoc does; messages (`{…}` or `<…>`) nest at most `maxNestingDepth` deep.
    private mutating func aggregateText(opening: Token) throws(CompileError) -> String {
        var depth = 1
        var nested = 1
        var parts: [String] = []
        while true {
            if current.kind == .end { throw error("Unexpected end of stream while parsing aggregate value.") }
            if at("{") || at("<") {
                nested += 1
                guard nested <= maxNestingDepth else {
                    throw error("Option value is nested more than \(maxNestingDepth) levels deep (the nesting depth limit).", at: opening)
                }
            }
            if at("}") || at(">") { nested = max(1, nested - 1) }
            if at("{") { depth += 1 }
            if at("}") {
                depth -= 1
                if depth == 0 {
                    _ = next()
                    return parts.joined(separator: " ")
                }
            }
            parts.append(next().text)
        }
    }

    /// A float literal's value (`1.5`, `1e3`, `2f`).
    static func parseFloat(_ text: String) -> Double? {
        var text = text
        if text.hasSuffix("f") || text.hasSuffix("F") { text.removeLast() }
        return Double(text)
    }

    /// `[ name = value, … ]` after a field: `default` and `json_name` are stored directly, the
    /// rest uninterpreted.
    mutating func fieldOptions(_ field: inout FieldProto, fullName: String) throws(CompileError) {
        guard accept("[") else { return }
        repeat {
            if at("default"), tokens[index + 1].text == "=" {
                let token = next()
                _ = next()
                if field.hasDefaultValue { throw error("Already set option \"default\".", at: token) }
                locations.defaults[fullName] = current.location
                field.defaultValue = try defaultValue(for: field)
            } else if at("json_name"), tokens[index + 1].text == "=" {
                let token = next()
                _ = next()
                if field.hasJsonName { throw error("Already set option \"json_name\".", at: token) }
                locations.defaults[fullName + "#json_name"] = token.location
                field.jsonName = try string()
            } else {
                field.options.uninterpretedOption.append(try optionAssignment(owner: fullName))
            }
        } while accept(",")
        try expect("]")
    }

    /// The default value's text as protoc records it (numbers re-formatted by the linker).
    private mutating func defaultValue(for field: FieldProto) throws(CompileError) -> String {
        let negative = accept("-")
        let token = current
        if !field.hasType {
            // An enum (or a message, which the linker rejects): the default is a value name.
            guard !negative, current.kind == .identifier else { throw error("Expected enum identifier.") }
            return next().text
        }
        switch field.type {
        case .string:
            guard !negative else { throw error("Expected string.") }
            return String(decoding: try stringBytes(), as: UTF8.self)
        case .bytes:
            guard !negative else { throw error("Expected string.") }
            return StringLiteral.cEscape(try stringBytes())
        case .bool:
            guard !negative, current.kind == .identifier, current.text == "true" || current.text == "false" else {
                throw error("Expected \"true\" or \"false\".")
            }
            return next().text
        case .float, .double:
            if current.kind == .identifier, current.text == "inf" || current.text == "nan" {
                return (negative ? "-" : "") + next().text
            }
            guard current.kind == .integer || current.kind == .float else { throw error("Expected number.") }
            return (negative ? "-" : "") + next().text
        default:
            guard current.kind == .integer else { throw error("Expected integer.") }
            if negative, [.uint32, .uint64, .fixed32, .fixed64].contains(field.type) {
                throw error("Unsigned field can't have negative default value.", at: token)
            }
            return (negative ? "-" : "") + next().text
        }
    }
}

import Foundation
