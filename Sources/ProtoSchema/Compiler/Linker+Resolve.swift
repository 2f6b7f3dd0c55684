import SwiftProtobuf

extension Linker {
    /// Resolves every type reference of a file to a fully-qualified name and kind.
    mutating func resolve(_ file: inout Google_Protobuf_FileDescriptorProto, locations: SourceLocations) {
        let name = file.name
        for index in file.messageType.indices {
            resolve(&file.messageType[index], scope: file.package, file: name)
        }
        for index in file.extension.indices {
            resolveExtension(&file.extension[index], scope: file.package, file: name)
        }
        for serviceIndex in file.service.indices {
            let service = Parser.join(file.package, file.service[serviceIndex].name)
            for methodIndex in file.service[serviceIndex].method.indices {
                let method = service + "." + file.service[serviceIndex].method[methodIndex].name
                for (key, isInput) in [("#input", true), ("#output", false)] {
                    let written = isInput ? file.service[serviceIndex].method[methodIndex].inputType : file.service[serviceIndex].method[methodIndex].outputType
                    let at = location(name) { $0.typeReferences[method + key] }
                    // protoc looks method types up among all symbols (not types only), so a
                    // method named like its message type finds the method.
                    guard let (full, symbol) = lookupType(written, scope: service, file: name, at: at, typesOnly: false) else { continue }
                    guard symbol.kind == .message else {
                        fail(at, "\"\(written)\" is not a message type.")
                        continue
                    }
                    if isInput { file.service[serviceIndex].method[methodIndex].inputType = "." + full }
                    else { file.service[serviceIndex].method[methodIndex].outputType = "." + full }
                }
            }
        }
    }

    private mutating func resolve(_ message: inout MessageProto, scope: String, file: String) {
        let full = Parser.join(scope, message.name)
        for index in message.field.indices { resolveType(&message.field[index], scope: full, file: file) }
        for index in message.extension.indices { resolveExtension(&message.extension[index], scope: full, file: file) }
        for index in message.nestedType.indices { resolve(&message.nestedType[index], scope: full, file: file) }
    }

    private mutating func resolveExtension(_ field: inout FieldProto, scope: String, file: String) {
        let fieldName = Parser.join(scope, field.name)
        let at = location(file) { $0.typeReferences[fieldName + "#extendee"] }
        // Extendees, like method types, are looked up among all symbols, as protoc does.
        if let (full, symbol) = lookupType(field.extendee, scope: scope, file: file, at: at, typesOnly: false) {
            if symbol.kind == .message { field.extendee = "." + full } else { fail(at, "\"\(field.extendee)\" is not a message type.") }
        }
        resolveType(&field, scope: scope, file: file)
    }

    /// Resolves a field's named type (leaves scalars alone).
    private mutating func resolveType(_ field: inout FieldProto, scope: String, file: String) {
        // Scalars have no type name; named types (and groups) are resolved here.
        guard field.hasTypeName, !field.hasType || field.type == .group else { return }
        let fieldName = Parser.join(scope, field.name)
        let at = location(file) { $0.typeReferences[fieldName] }
        guard let (full, symbol) = lookupType(field.typeName, scope: scope, file: file, at: at) else { return }
        switch symbol.kind {
        case .message where field.type == .group && field.hasType: break
        case .message: field.type = .message
        case .enumeration: field.type = .enum
        default:
            fail(at, "\"\(field.typeName)\" is not a type.")
            return
        }
        field.typeName = "." + full
    }

    /// Looks up a type reference, reporting why it failed at `at`.
    mutating func lookupType(_ name: String, scope: String, file: String, at: SourceLocation,
                             typesOnly: Bool = true) -> (String, SymbolTable.Symbol)? {
        switch symbols.lookup(name, in: scope, typesOnly: typesOnly) {
        case .found(let full, let symbol):
            guard visible[file]?.contains(symbol.file) ?? true else {
                fail(at, "\"\(full)\" seems to be defined in \"\(symbol.file)\", which is not imported by \"\(file)\".  To use it here, please add the necessary import.")
                return nil
            }
            return (full, symbol)
        case .partial(let resolvedTo):
            fail(at, "\"\(name)\" is resolved to \"\(resolvedTo)\", which is not defined. The innermost scope is searched first in name resolution. Consider using a leading '.'(i.e., \".\(name)\") to start from the outermost scope.")
            return nil
        case .notFound:
            fail(at, "\"\(name)\" is not defined.")
            return nil
        }
    }
}
