import SwiftProtobuf

extension Parser {
    mutating func enumeration(scope: String) throws(CompileError) -> EnumProto {
        var proto = EnumProto()
        let nameToken = current
        proto.name = try identifier("Expected enum name.")
        let fullName = Self.join(scope, proto.name)
        locations.declarations[fullName] = nameToken.location
        try expect("{")
        while !accept("}") {
            if current.kind == .end { throw error("Reached end of input in enum definition (missing '}').") }
            if accept(";") { continue }
            if at("option") {
                _ = next()
                proto.options.uninterpretedOption.append(try optionStatement(owner: fullName))
            } else if at("reserved") {
                _ = next()
                try enumReserved(&proto)
            } else {
                var value = Google_Protobuf_EnumValueDescriptorProto()
                let valueToken = current
                value.name = try identifier("Expected enum constant name.")
                // Enum values are siblings of their enum (C++ scoping), named in the enclosing scope.
                locations.declarations[fullName + "." + value.name] = valueToken.location
                try expect("=", "Missing numeric value for enum constant.")
                locations.numbers[fullName + "." + value.name] = current.location
                value.number = try int32("Expected integer.")
                if accept("[") {
                    repeat {
                        value.options.uninterpretedOption.append(try optionAssignment(owner: fullName + "." + value.name))
                    } while accept(",")
                    try expect("]")
                }
                try expect(";", "Expected \";\".")
                proto.value.append(value)
            }
        }
        return proto
    }

    private mutating func enumReserved(_ proto: inout EnumProto) throws(CompileError) {
        if current.kind == .string {
            repeat { proto.reservedName.append(try string()) } while accept(",")
        } else {
            repeat {
                var range = Google_Protobuf_EnumDescriptorProto.EnumReservedRange()
                range.start = try int32("Expected enum value or number range.")
                if accept("to") {
                    range.end = accept("max") ? Int32.max : try int32("Expected integer.")
                } else {
                    range.end = range.start
                }
                proto.reservedRange.append(range)
            } while accept(",")
        }
        try expect(";")
    }

    mutating func service(scope: String) throws(CompileError) -> Google_Protobuf_ServiceDescriptorProto {
        var service = Google_Protobuf_ServiceDescriptorProto()
        let nameToken = current
        service.name = try identifier("Expected service name.")
        let fullName = Self.join(scope, service.name)
        locations.declarations[fullName] = nameToken.location
        try expect("{")
        while !accept("}") {
            if current.kind == .end { throw error("Reached end of input in service definition (missing '}').") }
            if accept(";") { continue }
            if at("option") {
                _ = next()
                service.options.uninterpretedOption.append(try optionStatement(owner: fullName))
                continue
            }
            try expect("rpc", "Expected \"rpc\".")
            var method = Google_Protobuf_MethodDescriptorProto()
            let methodToken = current
            method.name = try identifier("Expected method name.")
            let methodName = fullName + "." + method.name
            locations.declarations[methodName] = methodToken.location
            try expect("(")
            if at("stream"), tokens[index + 1].text != ")" {
                _ = next()
                method.clientStreaming = true
            }
            locations.typeReferences[methodName + "#input"] = current.location
            method.inputType = try typeName()
            try expect(")")
            try expect("returns", "Expected \"returns\".")
            try expect("(")
            if at("stream"), tokens[index + 1].text != ")" {
                _ = next()
                method.serverStreaming = true
            }
            locations.typeReferences[methodName + "#output"] = current.location
            method.outputType = try typeName()
            try expect(")")
            if accept("{") {
                // protoc gives a method with a body an options message, even an empty one.
                method.options = Google_Protobuf_MethodOptions()
                while !accept("}") {
                    if current.kind == .end { throw error("Reached end of input in method options (missing '}').") }
                    if accept(";") { continue }
                    try expect("option", "Expected \"option\".")
                    method.options.uninterpretedOption.append(try optionStatement(owner: methodName))
                }
            } else {
                try expect(";", "Expected \";\".")
            }
            service.method.append(method)
        }
        return service
    }
}
