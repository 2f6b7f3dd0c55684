import SwiftProtobuf

/// Parses one `.proto` file into a `FileDescriptorProto` the way protoc's parser does: type
/// names stay as written (the linker resolves them), options stay uninterpreted (the option
/// interpreter encodes them), map entries, groups and proto3 `optional`'s synthetic oneofs are
/// synthesised here, as protoc does.
struct Parser {
    typealias FileProto = Google_Protobuf_FileDescriptorProto
    typealias MessageProto = Google_Protobuf_DescriptorProto
    typealias FieldProto = Google_Protobuf_FieldDescriptorProto
    typealias EnumProto = Google_Protobuf_EnumDescriptorProto

    var tokens: [Token]
    var index = 0
    let fileName: String
    var isProto3 = false
    /// Where each element was declared, by a key the linker builds the same way.
    var locations = SourceLocations()
    /// How deep messages (and groups, and aggregate option values) may nest.
    let maxNestingDepth: Int
    /// How many message bodies enclose the current token.
    var nesting = 0

    init(source: String, fileName: String, maxNestingDepth: Int = ProtoCompiler.Limits.standard.maxNestingDepth) throws(CompileError) {
        var tokenizer = Tokenizer(source: source, file: fileName)
        self.tokens = try tokenizer.tokenize()
        self.fileName = fileName
        self.maxNestingDepth = maxNestingDepth
    }

    // MARK: Token helpers

    var current: Token { tokens[index] }

    func at(_ text: String) -> Bool { current.kind != .string && current.text == text }

    mutating func next() -> Token {
        defer { if index < tokens.count - 1 { index += 1 } }
        return current
    }

    func error(_ message: String, at token: Token? = nil) -> CompileError {
        CompileError((token ?? current).location, message)
    }

    func describe(_ token: Token) -> String { token.kind == .end ? "end of input" : "\"\(token.text)\"" }

    mutating func expect(_ text: String, _ message: String? = nil) throws(CompileError) {
        guard at(text) else { throw error(message ?? "Expected \"\(text)\".") }
        _ = next()
    }

    mutating func accept(_ text: String) -> Bool {
        guard at(text) else { return false }
        _ = next()
        return true
    }

    mutating func identifier(_ message: String = "Expected identifier.") throws(CompileError) -> String {
        guard current.kind == .identifier else { throw error(message) }
        return next().text
    }

    /// A possibly dotted identifier (`a.b.c`), optionally with a leading dot (type references).
    mutating func typeName(allowLeadingDot: Bool = true) throws(CompileError) -> String {
        var name = ""
        if allowLeadingDot, accept(".") { name = "." }
        name += try identifier("Expected type name.")
        while accept(".") { name += "." + (try identifier()) }
        return name
    }

    mutating func integer(_ message: String = "Expected integer.") throws(CompileError) -> UInt64 {
        guard current.kind == .integer else { throw error(message) }
        let token = next()
        guard let value = Self.parseInteger(token.text) else { throw error("Integer out of range.", at: token) }
        return value
    }

    /// A signed 32-bit number (field numbers, enum values, ranges), with an optional `-`.
    mutating func int32(_ message: String) throws(CompileError) -> Int32 {
        let negative = accept("-")
        let token = current
        let magnitude = try integer(message)
        let limit: UInt64 = negative ? 0x8000_0000 : 0x7FFF_FFFF
        guard magnitude <= limit else { throw error("Integer out of range.", at: token) }
        return negative ? Int32(truncatingIfNeeded: 0 &- Int64(magnitude)) : Int32(magnitude)
    }

    static func parseInteger(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
        if text.count > 1, text.hasPrefix("0") { return UInt64(text.dropFirst(), radix: 8) }
        return UInt64(text)
    }

    /// One or more adjacent string literals, unescaped and concatenated (as bytes).
    mutating func stringBytes() throws(CompileError) -> [UInt8] {
        guard current.kind == .string else { throw error("Expected string.") }
        var bytes: [UInt8] = []
        while current.kind == .string {
            let token = next()
            bytes += try StringLiteral.unescape(token)
        }
        return bytes
    }

    mutating func string() throws(CompileError) -> String {
        let bytes = try stringBytes()
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: File

    mutating func parseFile() throws(CompileError) -> FileProto {
        var file = FileProto()
        file.name = fileName
        if at("syntax") {
            let syntaxToken = next()
            try expect("=")
            let valueToken = current
            let syntax = try string()
            try expect(";")
            switch syntax {
            case "proto2": break
            case "proto3":
                isProto3 = true
                file.syntax = "proto3"
            default:
                throw error("Unrecognized syntax identifier \"\(syntax)\".  This parser only recognizes \"proto2\" and \"proto3\".", at: valueToken)
            }
            _ = syntaxToken
        } else if at("edition") {
            throw error("Editions are not supported; use syntax = \"proto2\" or \"proto3\".")
        }
        while current.kind != .end {
            try parseTopLevel(into: &file)
        }
        return file
    }

    private mutating func parseTopLevel(into file: inout FileProto) throws(CompileError) {
        if accept(";") { return }
        let token = current
        guard current.kind == .identifier else { throw error("Expected top-level statement (e.g. \"message\").") }
        switch current.text {
        case "import":
            _ = next()
            if accept("public") { file.publicDependency.append(Int32(file.dependency.count)) }
            else if accept("weak") { file.weakDependency.append(Int32(file.dependency.count)) }
            let location = current.location
            let name = try string()
            try expect(";")
            if locations.imports[name] == nil { locations.imports[name] = location }
            locations.importStatements.append(token.location)
            file.dependency.append(name)
        case "package":
            _ = next()
            guard !file.hasPackage else { throw error("Multiple package definitions.", at: token) }
            let location = current.location
            file.package = try typeName(allowLeadingDot: false)
            locations.package = location
            try expect(";")
        case "option":
            _ = next()
            file.options.uninterpretedOption.append(try optionStatement(owner: fileName))
        case "message":
            _ = next()
            file.messageType.append(try message(scope: file.package))
        case "enum":
            _ = next()
            file.enumType.append(try enumeration(scope: file.package))
        case "service":
            _ = next()
            file.service.append(try service(scope: file.package))
        case "extend":
            _ = next()
            var nested: [MessageProto] = []
            try extend(into: &file.extension, nested: &nested, scope: file.package)
            file.messageType += nested
        default:
            throw error("Expected top-level statement (e.g. \"message\").")
        }
    }
}
