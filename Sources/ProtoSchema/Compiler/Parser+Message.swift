import SwiftProtobuf

extension Parser {
    static let scalarTypes: [String: Google_Protobuf_FieldDescriptorProto.TypeEnum] = [
        "double": .double, "float": .float, "int64": .int64, "uint64": .uint64, "int32": .int32,
        "fixed64": .fixed64, "fixed32": .fixed32, "bool": .bool, "string": .string, "bytes": .bytes,
        "uint32": .uint32, "sfixed32": .sfixed32, "sfixed64": .sfixed64, "sint32": .sint32, "sint64": .sint64,
    ]

    static func join(_ scope: String, _ name: String) -> String { scope.isEmpty ? name : scope + "." + name }

    mutating func message(scope: String) throws(CompileError) -> MessageProto {
        var message = MessageProto()
        let nameToken = current
        message.name = try identifier("Expected message name.")
        let fullName = Self.join(scope, message.name)
        locations.declarations[fullName] = nameToken.location
        try messageBody(&message, fullName: fullName)
        return message
    }

    mutating func messageBody(_ message: inout MessageProto, fullName: String) throws(CompileError) {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= maxNestingDepth else {
            throw CompileError(locations.declarations[fullName] ?? current.location,
                               "Message \"\(fullName.split(separator: ".").last ?? "")\" is nested more than \(maxNestingDepth) levels deep (the nesting depth limit); declare it at a shallower level.")
        }
        try expect("{")
        while !accept("}") {
            if current.kind == .end { throw error("Reached end of input in message definition (missing '}').") }
            try messageElement(&message, fullName: fullName)
        }
        addSyntheticOneofs(&message)
        adjustMaxRanges(&message)
    }

    /// `to max` ends at the largest field number + 1, or at INT32_MAX for message sets (decided,
    /// as protoc does, from the still-uninterpreted `message_set_wire_format = true`).
    private func adjustMaxRanges(_ message: inout MessageProto) {
        let isMessageSet = message.options.uninterpretedOption.contains {
            $0.name.count == 1 && $0.name[0].namePart == "message_set_wire_format" && $0.identifierValue == "true"
        }
        let max = isMessageSet ? Int32.max : Linker.maxFieldNumber + 1
        for index in message.extensionRange.indices where message.extensionRange[index].end == -1 {
            message.extensionRange[index].end = max
        }
        for index in message.reservedRange.indices where message.reservedRange[index].end == -1 {
            message.reservedRange[index].end = max
        }
    }

    private mutating func messageElement(_ message: inout MessageProto, fullName: String) throws(CompileError) {
        if accept(";") { return }
        switch current.text {
        case "message" where current.kind == .identifier:
            _ = next()
            message.nestedType.append(try self.message(scope: fullName))
        case "enum" where current.kind == .identifier:
            _ = next()
            message.enumType.append(try enumeration(scope: fullName))
        case "extensions" where current.kind == .identifier:
            _ = next()
            try extensionRanges(&message, fullName: fullName)
        case "reserved" where current.kind == .identifier:
            _ = next()
            try reserved(&message)
        case "extend" where current.kind == .identifier:
            _ = next()
            var extensions = message.extension, nested = message.nestedType
            try extend(into: &extensions, nested: &nested, scope: fullName)
            message.extension = extensions
            message.nestedType = nested
        case "option" where current.kind == .identifier:
            _ = next()
            message.options.uninterpretedOption.append(try optionStatement(owner: fullName))
        case "oneof" where current.kind == .identifier:
            _ = next()
            try oneof(&message, fullName: fullName)
        default:
            var field = FieldProto()
            try self.field(&field, nested: &message.nestedType, scope: fullName, inOneof: false)
            message.field.append(field)
        }
    }

    /// A field (or group, or map) statement; synthesised nested types go to `nested`.
    mutating func field(_ field: inout FieldProto, nested: inout [MessageProto], scope: String, inOneof: Bool,
                        extendee: String? = nil) throws(CompileError) {
        let start = current
        var labelled = false
        if current.kind == .identifier, ["optional", "required", "repeated"].contains(current.text), !isMapStart {
            if inOneof { throw error("Fields in oneofs must not have labels (required / optional / repeated).") }
            let label = next().text
            labelled = true
            field.label = label == "required" ? .required : label == "repeated" ? .repeated : .optional
            if label == "optional" && isProto3 { field.proto3Optional = true }  // extensions too, as protoc marks them
        } else {
            field.label = .optional
        }
        if isMapStart {
            if labelled { throw error("Field labels (required/optional/repeated) are not allowed on map fields.", at: start) }
            try mapField(&field, nested: &nested, scope: scope, inOneof: inOneof)
            return
        }
        if !labelled && !isProto3 && !inOneof {
            throw error("Expected \"required\", \"optional\", or \"repeated\".")
        }
        if at("group"), tokens[index + 1].kind == .identifier {
            try group(&field, nested: &nested, scope: scope)
            return
        }
        let typeToken = current
        let typeName = try self.typeName()
        if let scalar = Self.scalarTypes[typeName] {
            field.type = scalar
        } else {
            field.typeName = typeName
        }
        let nameToken = current
        field.name = try identifier("Expected field name.")
        let fullName = Self.join(scope, field.name)
        locations.declarations[fullName] = nameToken.location
        locations.typeReferences[fullName] = typeToken.location
        try expect("=", "Missing field number.")
        locations.numbers[fullName] = current.location
        field.number = try int32("Expected field number.")
        try fieldOptions(&field, fullName: fullName)
        try expect(";", "Expected \";\".")
    }

    private var isMapStart: Bool {
        current.kind == .identifier && current.text == "map" && tokens[index + 1].text == "<"
    }

    private mutating func mapField(_ field: inout FieldProto, nested: inout [MessageProto], scope: String, inOneof: Bool) throws(CompileError) {
        _ = next()
        if inOneof { throw error("Map fields are not allowed in oneofs.") }
        try expect("<")
        let keyToken = current
        let keyType = try typeName()
        try expect(",")
        let valueToken = current
        let valueType = try typeName()
        try expect(">")
        let nameToken = current
        field.name = try identifier("Expected field name.")
        let fullName = Self.join(scope, field.name)
        locations.declarations[fullName] = nameToken.location
        try expect("=", "Missing field number.")
        locations.numbers[fullName] = current.location
        field.number = try int32("Expected field number.")
        field.label = .repeated
        var entry = MessageProto()
        entry.name = Self.mapEntryName(field.name)
        let entryName = Self.join(scope, entry.name)
        locations.declarations[entryName] = nameToken.location
        for (number, name, type, token) in [(Int32(1), "key", keyType, keyToken), (2, "value", valueType, valueToken)] {
            var part = FieldProto()
            part.name = name
            part.number = number
            part.label = .optional
            part.jsonName = name
            if let scalar = Self.scalarTypes[type] { part.type = scalar } else { part.typeName = type }
            locations.declarations[entryName + "." + name] = token.location
            locations.typeReferences[entryName + "." + name] = token.location
            entry.field.append(part)
        }
        entry.options.mapEntry = true
        field.typeName = entry.name
        locations.typeReferences[fullName] = nameToken.location
        try fieldOptions(&field, fullName: fullName)
        try expect(";", "Expected \";\".")
        nested.append(entry)
    }

    /// `FooBarEntry` for field `foo_bar`, as protoc names map entries.
    static func mapEntryName(_ field: String) -> String {
        var result = ""
        var upper = true
        for character in field {
            if character == "_" {
                upper = true
            } else if upper {
                result += character.uppercased()
                upper = false
            } else {
                result.append(character)
            }
        }
        return result + "Entry"
    }

    private mutating func group(_ field: inout FieldProto, nested: inout [MessageProto], scope: String) throws(CompileError) {
        let groupToken = next()
        if isProto3 { throw error("Groups are not supported in proto3 syntax.", at: groupToken) }
        let nameToken = current
        let name = try identifier("Expected group name.")
        guard name.first.map({ $0.isUppercase }) == true else {
            throw error("Group names must start with a capital letter.", at: nameToken)
        }
        field.name = name.lowercased()
        field.type = .group
        field.typeName = name
        let fullName = Self.join(scope, field.name)
        locations.declarations[fullName] = nameToken.location
        locations.typeReferences[fullName] = nameToken.location
        try expect("=", "Missing field number.")
        locations.numbers[fullName] = current.location
        field.number = try int32("Expected field number.")
        try fieldOptions(&field, fullName: fullName)
        var message = MessageProto()
        message.name = name
        let messageName = Self.join(scope, name)
        locations.declarations[messageName] = nameToken.location
        try messageBody(&message, fullName: messageName)
        nested.append(message)
    }

    private mutating func oneof(_ message: inout MessageProto, fullName: String) throws(CompileError) {
        var oneof = Google_Protobuf_OneofDescriptorProto()
        let nameToken = current
        oneof.name = try identifier("Expected oneof name.")
        locations.declarations[Self.join(fullName, oneof.name)] = nameToken.location
        let index = Int32(message.oneofDecl.count)
        try expect("{")
        // protoc parses a field before looking for the closing brace.
        if at("}") { throw error("Expected type name.") }
        var fields = 0
        while !accept("}") {
            if current.kind == .end { throw error("Reached end of input in oneof definition (missing '}').") }
            if accept(";") { continue }
            if at("option") {
                _ = next()
                oneof.options.uninterpretedOption.append(try optionStatement(owner: Self.join(fullName, oneof.name)))
                continue
            }
            var field = FieldProto()
            field.oneofIndex = index
            try self.field(&field, nested: &message.nestedType, scope: fullName, inOneof: true)
            message.field.append(field)
            fields += 1
        }
        if fields == 0 { throw error("Oneof must have at least one field.", at: nameToken) }
        message.oneofDecl.append(oneof)
    }

    /// proto3 `optional` fields get a synthetic oneof each, after the real ones (`_name`).
    private func addSyntheticOneofs(_ message: inout MessageProto) {
        var names = Set(message.field.map(\.name) + message.oneofDecl.map(\.name))
        for index in message.field.indices where message.field[index].proto3Optional {
            var name = "_" + message.field[index].name
            while names.contains(name) { name = "X" + name }
            names.insert(name)
            var oneof = Google_Protobuf_OneofDescriptorProto()
            oneof.name = name
            message.field[index].oneofIndex = Int32(message.oneofDecl.count)
            message.oneofDecl.append(oneof)
        }
    }

    private mutating func extensionRanges(_ message: inout MessageProto, fullName: String) throws(CompileError) {
        var ranges: [Google_Protobuf_DescriptorProto.ExtensionRange] = []
        repeat {
            var range = Google_Protobuf_DescriptorProto.ExtensionRange()
            locations.numbers[fullName + "#extensions\(message.extensionRange.count + ranges.count)"] = current.location
            range.start = try int32("Expected field number range.")
            if accept("to") {
                range.end = try rangeEnd()
            } else {
                range.end = range.start &+ 1  // Int32.max wraps; the validator rejects it
            }
            ranges.append(range)
        } while accept(",")
        if at("[") {
            var options = Google_Protobuf_ExtensionRangeOptions()
            _ = next()
            repeat {
                options.uninterpretedOption.append(try optionAssignment(owner: fullName + "#extensions"))
            } while accept(",")
            try expect("]")
            for index in ranges.indices { ranges[index].options = options }
        }
        try expect(";")
        message.extensionRange += ranges
    }

    private mutating func reserved(_ message: inout MessageProto) throws(CompileError) {
        if current.kind == .string {
            repeat {
                message.reservedName.append(try string())
            } while accept(",")
        } else {
            repeat {
                var range = Google_Protobuf_DescriptorProto.ReservedRange()
                range.start = try int32("Expected field name or number range.")
                if accept("to") {
                    range.end = try rangeEnd()
                } else {
                    range.end = range.start &+ 1
                }
                message.reservedRange.append(range)
            } while accept(",")
        }
        try expect(";")
    }

    /// The exclusive end after `to`: `max` is -1 until the linker knows the real bound.
    private mutating func rangeEnd() throws(CompileError) -> Int32 {
        if accept("max") { return -1 }
        let token = current
        let end = try int32("Expected integer.")
        guard end < Int32.max else { throw error("Integer out of range.", at: token) }
        return end + 1
    }

    mutating func extend(into extensions: inout [FieldProto], nested: inout [MessageProto], scope: String) throws(CompileError) {
        let extendeeToken = current
        let extendee = try typeName()
        try expect("{")
        var count = 0
        while !accept("}") {
            if current.kind == .end { throw error("Reached end of input in extend definition (missing '}').") }
            if accept(";") { continue }
            var field = FieldProto()
            field.extendee = extendee
            try self.field(&field, nested: &nested, scope: scope, inOneof: false, extendee: extendee)
            locations.typeReferences[Self.join(scope, field.name) + "#extendee"] = extendeeToken.location
            extensions.append(field)
            count += 1
        }
        if count == 0 { throw error("Expected field in extend block.") }
    }
}
