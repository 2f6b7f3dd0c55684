import SwiftProtobuf

/// An options message that carries options as parsed, before interpretation.
protocol InterpretableOptions: SwiftProtobuf.Message {
    var uninterpretedOption: [Google_Protobuf_UninterpretedOption] { get set }
}

extension Google_Protobuf_FileOptions: InterpretableOptions {}
extension Google_Protobuf_MessageOptions: InterpretableOptions {}
extension Google_Protobuf_FieldOptions: InterpretableOptions {}
extension Google_Protobuf_OneofOptions: InterpretableOptions {}
extension Google_Protobuf_EnumOptions: InterpretableOptions {}
extension Google_Protobuf_EnumValueOptions: InterpretableOptions {}
extension Google_Protobuf_ServiceOptions: InterpretableOptions {}
extension Google_Protobuf_MethodOptions: InterpretableOptions {}
extension Google_Protobuf_ExtensionRangeOptions: InterpretableOptions {}

/// Turns uninterpreted options into the options messages protoc writes: standard options
/// become their fields, custom options (extensions) are encoded into the options' unknown
/// fields in the order written — both by encoding wire bytes from the option descriptors and
/// merging them, so one path serves both.
struct OptionInterpreter {
    let symbols: SymbolTable
    let index: DescriptorIndex
    let visible: [String: Set<String>]
    var errors: [CompileError] = []

    init(linker: Linker) {
        symbols = linker.symbols
        index = DescriptorIndex(linker.files.values.map(\.proto))
        visible = linker.visible
    }

    mutating func interpret(_ file: inout Google_Protobuf_FileDescriptorProto, locations: SourceLocations) {
        let name = file.name
        let package = file.package
        var context = Context(file: name, locations: locations)
        if file.hasOptions { apply(&file.options, type: "FileOptions", scope: package, owner: name, &context) }
        for index in file.messageType.indices { interpret(&file.messageType[index], scope: package, &context) }
        for index in file.enumType.indices { interpret(&file.enumType[index], scope: package, &context) }
        for index in file.extension.indices { interpret(&file.extension[index], scope: package, &context) }
        for serviceIndex in file.service.indices {
            let service = Parser.join(package, file.service[serviceIndex].name)
            if file.service[serviceIndex].hasOptions {
                apply(&file.service[serviceIndex].options, type: "ServiceOptions", scope: package, owner: service, &context)
            }
            for methodIndex in file.service[serviceIndex].method.indices where file.service[serviceIndex].method[methodIndex].hasOptions {
                let method = service + "." + file.service[serviceIndex].method[methodIndex].name
                apply(&file.service[serviceIndex].method[methodIndex].options, type: "MethodOptions", scope: service, owner: method, &context)
            }
        }
    }

    struct Context {
        let file: String
        let locations: SourceLocations
    }

    private mutating func interpret(_ message: inout Google_Protobuf_DescriptorProto, scope: String, _ context: inout Context) {
        let full = Parser.join(scope, message.name)
        if message.hasOptions { apply(&message.options, type: "MessageOptions", scope: scope, owner: full, &context) }
        for index in message.field.indices { interpret(&message.field[index], scope: full, &context) }
        for index in message.extension.indices { interpret(&message.extension[index], scope: full, &context) }
        for index in message.oneofDecl.indices where message.oneofDecl[index].hasOptions {
            apply(&message.oneofDecl[index].options, type: "OneofOptions", scope: full, owner: full + "." + message.oneofDecl[index].name, &context)
        }
        for index in message.extensionRange.indices where message.extensionRange[index].hasOptions {
            apply(&message.extensionRange[index].options, type: "ExtensionRangeOptions", scope: full, owner: full + "#extensions", &context)
        }
        for index in message.nestedType.indices { interpret(&message.nestedType[index], scope: full, &context) }
        for index in message.enumType.indices { interpret(&message.enumType[index], scope: full, &context) }
    }

    private mutating func interpret(_ field: inout Google_Protobuf_FieldDescriptorProto, scope: String, _ context: inout Context) {
        guard field.hasOptions else { return }
        apply(&field.options, type: "FieldOptions", scope: scope, owner: Parser.join(scope, field.name), &context)
    }

    private mutating func interpret(_ enumeration: inout Google_Protobuf_EnumDescriptorProto, scope: String, _ context: inout Context) {
        let full = Parser.join(scope, enumeration.name)
        if enumeration.hasOptions { apply(&enumeration.options, type: "EnumOptions", scope: scope, owner: full, &context) }
        for index in enumeration.value.indices where enumeration.value[index].hasOptions {
            apply(&enumeration.value[index].options, type: "EnumValueOptions", scope: scope, owner: full + "." + enumeration.value[index].name, &context)
        }
    }

    /// Interprets every uninterpreted option of one options message, in the order written.
    private mutating func apply<Options: InterpretableOptions>(
        _ options: inout Options, type: String, scope: String, owner: String, _ context: inout Context
    ) {
        let pending = options.uninterpretedOption
        options.uninterpretedOption = []
        let where_ = context.locations.options[owner] ?? []
        var setOnce: Set<String> = []
        for (position, option) in pending.enumerated() {
            let at = position < where_.count ? where_[position] : SourceLocation(file: context.file, line: 1, column: 1)
            do {
                let (bytes, singularKey) = try encode(option, optionsType: "google.protobuf." + type, scope: scope, file: context.file)
                if let singularKey, !setOnce.insert(singularKey).inserted {
                    throw CompileError(at, "Option \"\(singularKey)\" was already set.")
                }
                try options.merge(serializedBytes: bytes)
            } catch let error as CompileError {
                errors.append(CompileError(at, error.message))
            } catch {
                errors.append(CompileError(at, "Option \"\(Self.displayName(option))\" could not be encoded: \(error)"))
            }
        }
    }

    static func displayName(_ option: Google_Protobuf_UninterpretedOption) -> String {
        option.name.map { $0.isExtension ? "(\($0.namePart))" : $0.namePart }.joined(separator: ".")
    }

    /// The wire bytes of one option within its options message, and a key when it may be set
    /// only once (a non-repeated option without sub-fields).
    private func encode(_ option: Google_Protobuf_UninterpretedOption, optionsType: String, scope: String, file: String) throws -> ([UInt8], String?) {
        let display = Self.displayName(option)
        var messageType = optionsType
        var path: [Google_Protobuf_FieldDescriptorProto] = []
        for (position, part) in option.name.enumerated() {
            let partName = part.isExtension ? "(\(part.namePart))" : part.namePart
            let field: Google_Protobuf_FieldDescriptorProto
            if part.isExtension {
                guard case .found(let full, let symbol) = symbols.lookup(part.namePart, in: scope, typesOnly: false),
                      symbol.kind == .extensionField, let resolved = index.extensions[full] else {
                    throw CompileError(SourceLocation(file: file, line: 1, column: 1),
                                       "Option \"\(partName)\" unknown. Ensure that your proto definition file imports the proto which defines the option.")
                }
                guard visible[file]?.contains(symbol.file) ?? true else {
                    throw CompileError(SourceLocation(file: file, line: 1, column: 1),
                                       "Option \"\(partName)\" is defined in \"\(symbol.file)\", which is not imported by \"\(file)\".")
                }
                guard DescriptorIndex.bare(resolved.extendee) == messageType else {
                    throw CompileError(SourceLocation(file: file, line: 1, column: 1),
                                       "Option \"\(partName)\" is not a field or extension of message \"\(messageType.split(separator: ".").last ?? "")\".")
                }
                field = resolved
            } else {
                guard let found = index.messages[messageType]?.field.first(where: { $0.name == part.namePart }) else {
                    throw CompileError(SourceLocation(file: file, line: 1, column: 1), "Option \"\(partName)\" unknown.")
                }
                field = found
            }
            path.append(field)
            if position < option.name.count - 1 {
                guard field.type == .message || field.type == .group else {
                    throw CompileError(SourceLocation(file: file, line: 1, column: 1), "Option \"\(partName)\" is an atomic type, not a message.")
                }
                messageType = DescriptorIndex.bare(field.typeName)
            }
        }
        let leaf = path.last!
        var writer = WireWriter()
        try OptionValue(index: index, file: file).write(option, field: leaf, display: display, into: &writer)
        var bytes = writer.bytes
        for field in path.dropLast().reversed() {
            var outer = WireWriter()
            if field.type == .group {
                outer.tag(field.number, .startGroup)
                outer.append(bytes)
                outer.tag(field.number, .endGroup)
            } else {
                outer.tag(field.number, .lengthDelimited)
                outer.lengthDelimited(bytes)
            }
            bytes = outer.bytes
        }
        let singular = path.count == 1 && leaf.label != .repeated ? display : nil
        return (bytes, singular)
    }
}
