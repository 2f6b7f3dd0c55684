import SwiftProtobuf

extension SchemaModel {
    /// The model of a version: every file of its set indexed by type name, its main file shaped as text declares it.
    init(descriptorSet: Google_Protobuf_FileDescriptorSet, mainFileName: String) {
        var types: [String: TypeEntry] = [:]
        var mainFile = FileModel(name: mainFileName, package: "", messages: [], enums: [])
        for file in descriptorSet.file {
            var reader = DescriptorReader(file: file, isMainFile: file.name == mainFileName)
            let model = reader.file()
            types.merge(reader.types) { first, _ in first }
            if reader.isMainFile { mainFile = model }
        }
        self.init(mainFile: mainFile, types: types)
    }
}

/// Reads one file descriptor into the model, collecting its named types on the way.
private struct DescriptorReader {
    let descriptor: Google_Protobuf_FileDescriptorProto
    let isMainFile: Bool
    let isProto3: Bool
    /// The types read so far, by full name.
    var types: [String: TypeEntry] = [:]

    init(file: Google_Protobuf_FileDescriptorProto, isMainFile: Bool) {
        descriptor = file
        self.isMainFile = isMainFile
        isProto3 = file.syntax == "proto3"
    }

    mutating func file() -> FileModel {
        let package = descriptor.package
        return FileModel(
            name: descriptor.name,
            package: package,
            messages: descriptor.messageType.compactMap { message($0, scope: package) },
            enums: descriptor.enumType.map { enumeration($0, scope: package) }
        )
    }

    /// The message, or nil for a map entry (registered as a type, but not a nested message in text).
    private mutating func message(_ descriptor: Google_Protobuf_DescriptorProto, scope: String) -> MessageModel? {
        let fullName = qualified(descriptor.name, in: scope)
        if descriptor.options.mapEntry {
            let entryFields = descriptor.field.map { field($0, label: nil) }
            let key = entryFields.first { $0.name == "key" } ?? entryFields.first
            let value = entryFields.first { $0.name == "value" } ?? entryFields.last
            if let key, let value { register(fullName, .mapEntry(key: key, value: value)) }
            return nil
        }
        let nested = descriptor.nestedType.compactMap { message($0, scope: fullName) }
        let enums = descriptor.enumType.map { enumeration($0, scope: fullName) }
        let realOneofs = Set(descriptor.field.filter(isInRealOneof).map(\.oneofIndex))
        let oneofs = descriptor.oneofDecl.enumerated().compactMap { index, decl -> OneofModel? in
            guard realOneofs.contains(Int32(index)) else { return nil }
            let members = descriptor.field.filter { isInRealOneof($0) && $0.oneofIndex == Int32(index) }
            return OneofModel(name: decl.name, fields: members.map { field($0, label: nil) })
        }
        let fields = descriptor.field.filter { !isInRealOneof($0) }.map { field($0, label: textLabel($0)) }
        let model = MessageModel(
            name: descriptor.name,
            fullName: fullName,
            fields: fields,
            oneofs: oneofs,
            messages: nested,
            enums: enums,
            reservedNumbers: descriptor.reservedRange.compactMap { range in
                range.end > range.start ? range.start...(range.end - 1) : nil
            }
        )
        register(fullName, .message(model))
        return model
    }

    private mutating func enumeration(_ descriptor: Google_Protobuf_EnumDescriptorProto, scope: String) -> EnumModel {
        let model = EnumModel(
            name: descriptor.name,
            fullName: qualified(descriptor.name, in: scope),
            values: descriptor.value.map { EnumModel.Value(name: $0.name, number: $0.number) },
            reservedNumbers: descriptor.reservedRange.compactMap { range in
                range.end >= range.start ? range.start...range.end : nil
            }
        )
        register(model.fullName, .enumeration(model))
        return model
    }

    /// A field; a map field reads as `map<K, V>` with no label, as in text.
    private func field(_ descriptor: Google_Protobuf_FieldDescriptorProto, label: FieldLabel?) -> FieldModel {
        if let scalar = ScalarType(descriptor.type) {
            return FieldModel(name: descriptor.name, number: descriptor.number, label: label,
                              type: .scalar(scalar), typeDisplay: scalar.rawValue)
        }
        let typeName = descriptor.typeName.hasPrefix(".") ? String(descriptor.typeName.dropFirst()) : descriptor.typeName
        if case .mapEntry(let key, let value) = types[typeName]?.kind {
            return FieldModel(name: descriptor.name, number: descriptor.number, label: nil,
                              type: .named(typeName, isEnum: false),
                              typeDisplay: "map<\(key.typeDisplay), \(value.typeDisplay)>")
        }
        return FieldModel(name: descriptor.name, number: descriptor.number, label: label,
                          type: .named(typeName, isEnum: descriptor.type == .enum), typeDisplay: typeName)
    }

    /// The label as `.proto` text has it: none for proto3 singular fields without `optional`.
    private func textLabel(_ descriptor: Google_Protobuf_FieldDescriptorProto) -> FieldLabel? {
        switch descriptor.label {
        case .repeated: .repeated
        case .required: .required
        case .optional: isProto3 && !descriptor.proto3Optional ? nil : .optional
        }
    }

    /// Members of a declared oneof; proto3 `optional` fields sit in synthetic oneofs that text does not show.
    private func isInRealOneof(_ descriptor: Google_Protobuf_FieldDescriptorProto) -> Bool {
        descriptor.hasOneofIndex && !descriptor.proto3Optional
    }

    private mutating func register(_ fullName: String, _ kind: TypeEntry.Kind) {
        types[fullName] = TypeEntry(package: descriptor.package, isInMainFile: isMainFile, kind: kind)
    }

    private func qualified(_ name: String, in scope: String) -> String {
        scope.isEmpty ? name : "\(scope).\(name)"
    }
}
