import SwiftProtobuf

/// Encodes protobuf text format (the body of an aggregate option value, `{ a: 1 b { c: "x" } }`)
/// into wire bytes for a message type, ordered by field number as a serialised message is.
struct TextFormatEncoder {
    let index: DescriptorIndex
    let file: String
    /// How deep messages may nest inside the value.
    var maxDepth = ProtoCompiler.Limits.standard.maxNestingDepth

    private func fail(_ message: String) -> CompileError {
        CompileError(SourceLocation(file: file, line: 1, column: 1), "Error while parsing option value: \(message)")
    }

    func encode(_ text: String, messageType: String) throws -> [UInt8] {
        var tokenizer = Tokenizer(source: text, file: file)
        var tokens = try tokenizer.tokenize()[...]
        let bytes = try message(&tokens, type: messageType, closing: nil, depth: 1)
        return bytes
    }

    private func message(_ tokens: inout ArraySlice<Token>, type: String, closing: String?, depth: Int) throws -> [UInt8] {
        guard depth <= maxDepth else { throw fail("Message is nested more than \(maxDepth) levels deep (the nesting depth limit).") }
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
                if name.contains("/") {
                    entries += try expandedAny(&tokens, typeURL: name, in: type, depth: depth)
                    continue
                }
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
                    entries.append((field.number, try value(&tokens, field: field, depth: depth)))
                    if tokens.first?.text == "," { tokens.removeFirst() }
                }
                tokens.removeFirst()
            } else {
                if !hasColon && !(field.type == .message || field.type == .group) { throw fail("Expected \":\".") }
                entries.append((field.number, try value(&tokens, field: field, depth: depth)))
            }
        }
        // A serialised message lists fields by number; repeated values keep their order.
        let ordered = entries.enumerated().sorted { ($0.element.number, $0.offset) < ($1.element.number, $1.offset) }
        return pack(ordered.map(\.element), in: descriptor, type: type)
    }

    /// The entries as one serialised message, the values of each packed field (repeated scalars
    /// in proto3 unless `packed = false`, or marked `packed = true`) joined in one record, as
    /// protoc's serialiser writes them.
    private func pack(_ entries: [(number: Int32, bytes: [UInt8])], in descriptor: Google_Protobuf_DescriptorProto, type: String) -> [UInt8] {
        let proto3 = index.files[type].map { index.proto3Files.contains($0) } ?? false
        let packed = Set(descriptor.field.filter { field in
            field.label == .repeated && Linker.isPackable(field.type)
                && (field.options.hasPacked ? field.options.packed : proto3)
        }.map(\.number))
        var bytes: [UInt8] = []
        var position = 0
        while position < entries.count {
            let number = entries[position].number
            guard packed.contains(number) else {
                bytes += entries[position].bytes
                position += 1
                continue
            }
            var tag = WireWriter()
            tag.tag(number, .varint)
            var payload: [UInt8] = []
            while position < entries.count, entries[position].number == number {
                payload += entries[position].bytes.dropFirst(tag.bytes.count)
                position += 1
            }
            var record = WireWriter()
            record.tag(number, .lengthDelimited)
            record.lengthDelimited(payload)
            bytes += record.bytes
        }
        return bytes
    }

    /// `[type.googleapis.com/pkg.Msg] { … }` inside a google.protobuf.Any: the Any's `type_url`
    /// and `value` (the named message, encoded), as protoc's text format parser expands it.
    private func expandedAny(_ tokens: inout ArraySlice<Token>, typeURL: String, in type: String, depth: Int) throws -> [(number: Int32, bytes: [UInt8])] {
        guard type == "google.protobuf.Any" else {
            throw fail("Field \"\(typeURL)\" names a type URL, but \"\(type)\" is not google.protobuf.Any.")
        }
        let slash = typeURL.lastIndex(of: "/")!
        let prefix = String(typeURL[...slash]), name = String(typeURL[typeURL.index(after: slash)...])
        guard prefix == "type.googleapis.com/" || prefix == "type.googleprod.com/", index.messages[name] != nil else {
            throw fail("Could not find type \"\(typeURL)\" stored in google.protobuf.Any.")
        }
        if tokens.first?.text == ":" { tokens.removeFirst() }
        guard let open = tokens.first, open.text == "{" || open.text == "<" else { throw fail("Expected \"{\".") }
        tokens.removeFirst()
        let body = try message(&tokens, type: name, closing: open.text == "{" ? "}" : ">", depth: depth + 1)
        var url = WireWriter(), value = WireWriter()
        url.tag(1, .lengthDelimited)
        url.lengthDelimited(Array(typeURL.utf8))
        value.tag(2, .lengthDelimited)
        value.lengthDelimited(body)
        return [(1, url.bytes), (2, value.bytes)]
    }

    private func value(_ tokens: inout ArraySlice<Token>, field: Google_Protobuf_FieldDescriptorProto, depth: Int) throws -> [UInt8] {
        var writer = WireWriter()
        if field.type == .message || field.type == .group {
            guard let open = tokens.first, open.text == "{" || open.text == "<" else { throw fail("Expected \"{\".") }
            tokens.removeFirst()
            let body = try message(&tokens, type: DescriptorIndex.bare(field.typeName), closing: open.text == "{" ? "}" : ">", depth: depth + 1)
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
