import SwiftProtobuf

/// One parsed file waiting to be linked.
struct ParsedFile {
    var proto: Google_Protobuf_FileDescriptorProto
    var locations: SourceLocations
    var isProto3: Bool { proto.syntax == "proto3" }
}

/// Turns parsed files into the descriptors protoc writes: registers every symbol, resolves
/// type names with protoc's scoping rules, checks imports, interprets options, fills in JSON
/// names and canonical defaults, and validates — collecting every error with its location.
struct Linker {
    typealias MessageProto = Google_Protobuf_DescriptorProto
    typealias FieldProto = Google_Protobuf_FieldDescriptorProto

    var symbols = SymbolTable()
    var errors: [CompileError] = []
    var files: [String: ParsedFile] = [:]
    /// Files each file may use symbols from: itself, its imports, and their public imports.
    var visible: [String: Set<String>] = [:]

    static let maxFieldNumber: Int32 = 536_870_911

    /// Links `order` (dependencies first) and returns the finished descriptors in that order.
    mutating func link(_ parsed: [ParsedFile]) -> [Google_Protobuf_FileDescriptorProto] {
        for file in parsed { files[file.proto.name] = file }
        for file in parsed { register(file) }
        for file in parsed { visible[file.proto.name] = visibleFiles(from: file.proto.name) }
        var linked: [Google_Protobuf_FileDescriptorProto] = []
        for file in parsed {
            var proto = file.proto
            resolve(&proto, locations: file.locations)
            files[proto.name]?.proto = proto
            linked.append(proto)
        }
        // Options need every type resolved first (custom options may be defined anywhere visible).
        var interpreter = OptionInterpreter(linker: self)
        for index in linked.indices {
            interpreter.interpret(&linked[index], locations: files[linked[index].name]!.locations)
        }
        errors += interpreter.errors
        // Validation reads options (packed, message_set_wire_format) of other messages too.
        for file in linked { files[file.name]?.proto = file }
        for index in linked.indices {
            validate(&linked[index], locations: files[linked[index].name]!.locations)
            checkExtensionNumbers(linked[index])
        }
        return linked
    }

    func location(_ file: String, _ lookup: (SourceLocations) -> SourceLocation?) -> SourceLocation {
        files[file].flatMap { lookup($0.locations) } ?? SourceLocation(file: file, line: 1, column: 1)
    }

    mutating func fail(_ location: SourceLocation, _ message: String) {
        errors.append(CompileError(location, message))
    }

    private func visibleFiles(from name: String) -> Set<String> {
        var result: Set<String> = [name]
        guard let file = files[name]?.proto else { return result }
        var queue = file.dependency
        var publicSeen: Set<String> = []
        for dependency in file.dependency { result.insert(dependency) }
        while let next = queue.popLast() {
            guard let dependency = files[next]?.proto else { continue }
            for index in dependency.publicDependency where Int(index) < dependency.dependency.count {
                let exported = dependency.dependency[Int(index)]
                if publicSeen.insert(exported).inserted {
                    result.insert(exported)
                    queue.append(exported)
                }
            }
        }
        return result
    }

    // MARK: Registration

    private mutating func register(_ file: ParsedFile) {
        let proto = file.proto
        let name = proto.name
        var imported: Set<String> = []
        for (position, dependency) in proto.dependency.enumerated() where !imported.insert(dependency).inserted {
            let at = position < file.locations.importStatements.count ? file.locations.importStatements[position] : location(name) { $0.imports[dependency] }
            fail(at, "Import \"\(dependency)\" was listed twice.")
        }
        if proto.hasPackage {
            var prefix = ""
            for part in proto.package.split(separator: ".") {
                prefix = prefix.isEmpty ? String(part) : prefix + "." + part
                if let existing = symbols.add(prefix, .init(kind: .package, file: name)) {
                    fail(location(name) { $0.package }, "\"\(prefix)\" is already defined (as something other than a package) in file \"\(existing.file)\".")
                }
            }
        }
        for message in proto.messageType { register(message, scope: proto.package, file: name) }
        for enumeration in proto.enumType { register(enumeration, scope: proto.package, file: name) }
        for field in proto.extension { define(Parser.join(proto.package, field.name), .init(kind: .extensionField, file: name, field: field), file: name, scope: proto.package) }
        for service in proto.service {
            let full = Parser.join(proto.package, service.name)
            define(full, .init(kind: .service, file: name), file: name, scope: proto.package)
            for method in service.method { define(full + "." + method.name, .init(kind: .method, file: name), file: name, scope: full) }
        }
    }

    private mutating func register(_ message: MessageProto, scope: String, file: String) {
        let full = Parser.join(scope, message.name)
        define(full, .init(kind: .message, file: file, message: message), file: file, scope: scope)
        for field in message.field { define(full + "." + field.name, .init(kind: .field, file: file, field: field), file: file, scope: full) }
        for oneof in message.oneofDecl { define(full + "." + oneof.name, .init(kind: .oneof, file: file), file: file, scope: full) }
        for nested in message.nestedType { register(nested, scope: full, file: file) }
        for enumeration in message.enumType { register(enumeration, scope: full, file: file) }
        for field in message.extension { define(full + "." + field.name, .init(kind: .extensionField, file: file, field: field), file: file, scope: full) }
    }

    private mutating func register(_ enumeration: Google_Protobuf_EnumDescriptorProto, scope: String, file: String) {
        let full = Parser.join(scope, enumeration.name)
        define(full, .init(kind: .enumeration, file: file, enumeration: enumeration), file: file, scope: scope)
        for value in enumeration.value {
            // C++ scoping: values are siblings of their enum type.
            let valueName = Parser.join(scope, value.name)
            if let existing = symbols.add(valueName, .init(kind: .enumValue, file: file)) {
                let at = location(file) { $0.declarations[full + "." + value.name] }
                if existing.kind == .enumValue {
                    fail(at, "\"\(valueName)\" is already defined in \"\(scope)\". Note that enum values use C++ scoping rules, meaning that enum values are siblings of their type, not children of it.  Therefore, \"\(value.name)\" must be unique within \"\(scope)\", not just within \"\(enumeration.name)\".")
                } else {
                    fail(at, duplicateMessage(valueName, existing: existing, scope: scope))
                }
            }
        }
    }

    private mutating func define(_ name: String, _ symbol: SymbolTable.Symbol, file: String, scope: String) {
        if let existing = symbols.add(name, symbol) {
            fail(location(file) { $0.declarations[name] }, duplicateMessage(name, existing: existing, scope: scope))
        }
    }

    private func duplicateMessage(_ name: String, existing: SymbolTable.Symbol, scope: String) -> String {
        let short = name.split(separator: ".").last.map(String.init) ?? name
        if existing.kind == .package { return "\"\(name)\" is already defined (as something other than a package) in file \"\(existing.file)\"." }
        return scope.isEmpty
            ? "\"\(short)\" is already defined in file \"\(existing.file)\"."
            : "\"\(short)\" is already defined in \"\(scope)\"."
    }
}
