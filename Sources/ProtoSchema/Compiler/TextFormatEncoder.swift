import SwiftProtobuf

/// Encodes protobuf text format (the body of an aggregate option value, `{ a: 1 b { c: "x" } }`)
/// into wire bytes for a message type, ordered by field number as a serialised message is.
struct TextFormatEncoder {
    let index: DescriptorIndex
    let file: String

    private func fail(_ message: String) -> CompileError {
        CompileError(SourceLocation(file: file, line: 1, column: 1), "Error while parsing option value: \(message)")
    }

    func encode(_ text: String, messageType: String) throws -> [UInt8] {
        var tokenizer = Tokenizer(source: text, file: file)
        var tokens = try tokenizer.tokenize()[...]
        let bytes = try message(&tokens, type: messageType, closing: nil)
        return bytes
    }

    private func message(_ tokens: inout ArraySlice<Token>, type: String, closing: String?) throws -> [UInt8] {
        guard let descriptor = index.messages[type] else { throw fail("Message type \"\(type)\" is unknown.") }
        var entries: [(number: Int32, bytes: [UInt8])] = []
        while let token = tokens.first {
            if token.kind == .end {
                if closing != nil { throw fail("Expected \"\(closing!)\".") }
                break
            }
            if let closing, token.text == closing {
                tokens.removeFirst()
                break
            }
            if token.text == "," || token.text == ";" {
                tokens.removeFirst()
                continue
            }
            let field: Google_Protobuf_FieldDescriptorProto
            if token.text == "[" {
                tokens.removeFirst()
                var name = ""
                while let part = tokens.first, part.text != "]", part.kind != .end { name += tokens.removeFirst().text }
                guard tokens.first?.text == "]" else { throw fail("Expected \"]\".") }
                tokens.removeFirst()
                guard let found = index.extensions[DescriptorIndex.bare(name)], DescriptorIndex.bare(found.extendee) == type else {
                    throw fail("Extension \"\(name)\" is not defined or is not an extension of \"\(type)\".")
                }
                field = found
            } else {
                guard token.kind == .identifier else { throw fail("Expected identifier, got: \(token.text)") }
                tokens.removeFirst()
                guard let found = descriptor.field.first(where: { $0.name == token.text || ($0.type == .group && $0.typeName.hasSuffix("." + token.text)) }) else {
                    throw fail("Message type \"\(type)\" has no field named \"\(token.text)\".")
                }
                field = found
            }
            let hasColon = tokens.first?.text == ":"
            if hasColon { tokens.removeFirst() }
            if tokens.first?.text == "[" {
                tokens.removeFirst()
                while tokens.first?.text != "]" {
                    guard tokens.first?.kind != .end else { throw fail("Expected \"]\".") }
                    entries.append((field.number, try value(&tokens, field: field)))
                    if tokens.first?.text == "," { tokens.removeFirst() }
                }
                tokens.removeFirst()
            } else {
                if !hasColon && !(field.type == .message || field.type == .group) { throw fail("Expected \":\".") }
                entries.append((field.number, try value(&tokens, field: field)))
            }
        }
        // A serialised message lists fields by number; repeated values keep their order.
        let ordered = entries.enumerated().sorted { ($0.element.number, $0.offset) < ($1.element.number, $1.offset) }
        return ordered.flatMap(\.element.bytes)
    }

    private func value(_ tokens: inout ArraySlice<Token>, field: Google_Protobuf_FieldDescriptorProto) throws -> [UInt8] {
        var writer = WireWriter()
        if field.type == .message || field.type == .group {
            guard let open = tokens.first, open.text == "{" || open.text == "<" else { throw fail("Expected \"{\".") }
            tokens.removeFirst()
            let body = try message(&tokens, type: DescriptorIndex.bare(field.typeName), closing: open.text == "{" ? "}" : ">")
            if field.type == .group {
                writer.tag(field.number, .startGroup)
                writer.append(body)
                writer.tag(field.number, .endGroup)
            } else {
                writer.tag(field.number, .lengthDelimited)
                writer.lengthDelimited(body)
            }
            return writer.bytes
        }
        var option = Google_Protobuf_UninterpretedOption()
        let negative = tokens.first?.text == "-"
        if negative { tokens.removeFirst() }
        guard let token = tokens.first, token.kind != .end else { throw fail("Expected value.") }
        tokens.removeFirst()
        switch token.kind {
        case .integer:
            guard let magnitude = Parser.parseInteger(token.text) else { throw fail("Integer out of range.") }
            if negative { option.negativeIntValue = magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(min(magnitude, UInt64(Int64.max))) }
            else { option.positiveIntValue = magnitude }
        case .float:
            option.doubleValue = (negative ? -1 : 1) * (Parser.parseFloat(token.text) ?? 0)
        case .string:
            var bytes = try StringLiteral.unescape(token)
            while let more = tokens.first, more.kind == .string { bytes += try StringLiteral.unescape(tokens.removeFirst()) }
            option.stringValue = Data(bytes)
        case .identifier:
            if negative, token.text == "inf" || token.text == "nan" { option.doubleValue = token.text == "inf" ? -.infinity : .nan }
            else if field.type == .float || field.type == .double, token.text == "inf" || token.text == "nan" {
                option.doubleValue = token.text == "inf" ? .infinity : .nan
            } else {
                option.identifierValue = token.text
            }
        default:
            throw fail("Unexpected \"\(token.text)\".")
        }
        try OptionValue(index: index, file: file).write(option, field: field, display: field.name, into: &writer)
        return writer.bytes
    }
}

import Foundation
