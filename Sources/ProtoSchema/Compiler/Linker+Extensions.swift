import SwiftProtobuf

extension Linker {
    /// Refuses two extensions of one message with the same number in one file, as protoc does
    /// (across files protoc only warns). Extensions are taken in protoc's cross-link order:
    /// each message's nested messages, then its own extensions; the file's extensions last.
    mutating func checkExtensionNumbers(_ file: Google_Protobuf_FileDescriptorProto) {
        var used: [String: [Int32: String]] = [:]
        func visit(_ extensions: [FieldProto], scope: String, _ used: inout [String: [Int32: String]]) {
            for field in extensions {
                let extendee = DescriptorIndex.bare(field.extendee)
                let full = Parser.join(scope, field.name)
                if let previous = used[extendee]?[field.number] {
                    fail(location(file.name) { $0.numbers[full] },
                         "Extension number \(field.number) has already been used in \"\(extendee)\" by extension \"\(previous)\".")
                } else {
                    used[extendee, default: [:]][field.number] = full
                }
            }
        }
        func visit(_ message: MessageProto, scope: String, _ used: inout [String: [Int32: String]]) {
            let full = Parser.join(scope, message.name)
            for nested in message.nestedType { visit(nested, scope: full, &used) }
            visit(message.extension, scope: full, &used)
        }
        for message in file.messageType { visit(message, scope: file.package, &used) }
        visit(file.extension, scope: file.package, &used)
    }

    /// protoc's field-option rules: `packed` only on repeated scalar (numeric, bool, enum) fields;
    /// a MessageSet has no fields, and its extensions are optional messages.
    mutating func checkFieldOptions(_ field: FieldProto, fullName: String, file: String, index: DescriptorIndex) {
        let typeAt = location(file) { $0.typeReferences[fullName] ?? $0.declarations[fullName] }
        if field.options.packed, !(field.label == .repeated && Self.isPackable(field.type)) {
            fail(typeAt, "[packed = true] can only be specified for repeated primitive fields.")
        }
        if field.hasExtendee, index.messages[DescriptorIndex.bare(field.extendee)]?.options.messageSetWireFormat == true,
           field.label != .optional || field.type != .message {
            fail(typeAt, "Extensions of MessageSets must be optional messages.")
        }
    }

    /// Whether a repeated field of `type` may be packed.
    static func isPackable(_ type: FieldProto.TypeEnum) -> Bool {
        ![.string, .bytes, .message, .group].contains(type)
    }
}
