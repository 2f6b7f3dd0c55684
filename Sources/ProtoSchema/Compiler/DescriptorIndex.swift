import SwiftProtobuf

/// Resolved messages, enums and extensions by full name (without the leading dot), for the
/// option interpreter, the validator and the dynamic codec.
struct DescriptorIndex {
    var messages: [String: Google_Protobuf_DescriptorProto] = [:]
    var enums: [String: Google_Protobuf_EnumDescriptorProto] = [:]
    /// Extensions by full name, with the scope they were declared in.
    var extensions: [String: Google_Protobuf_FieldDescriptorProto] = [:]
    /// The file that declared each message or enum.
    var files: [String: String] = [:]
    /// Whether each file is proto3.
    var proto3Files: Set<String> = []

    init(_ files: [Google_Protobuf_FileDescriptorProto]) {
        for file in files {
            if file.syntax == "proto3" { proto3Files.insert(file.name) }
            for message in file.messageType { add(message, scope: file.package, file: file.name) }
            for enumeration in file.enumType { addEnum(enumeration, scope: file.package, file: file.name) }
            for field in file.extension { extensions[Parser.join(file.package, field.name)] = field }
        }
    }

    private mutating func add(_ message: Google_Protobuf_DescriptorProto, scope: String, file: String) {
        let full = Parser.join(scope, message.name)
        messages[full] = message
        files[full] = file
        for nested in message.nestedType { add(nested, scope: full, file: file) }
        for enumeration in message.enumType { addEnum(enumeration, scope: full, file: file) }
        for field in message.extension { extensions[Parser.join(full, field.name)] = field }
    }

    private mutating func addEnum(_ enumeration: Google_Protobuf_EnumDescriptorProto, scope: String, file: String) {
        let full = Parser.join(scope, enumeration.name)
        enums[full] = enumeration
        files[full] = file
    }

    /// A type name as stored in a field (`.pkg.M`) without its leading dot.
    static func bare(_ typeName: String) -> String {
        typeName.hasPrefix(".") ? String(typeName.dropFirst()) : typeName
    }
}
