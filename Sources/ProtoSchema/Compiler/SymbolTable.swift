import SwiftProtobuf

/// Every name defined by the files of a compilation, with what it is and where it came from.
struct SymbolTable {
    enum Kind: Equatable {
        case package, message, enumeration, enumValue, field, oneof, service, method, extensionField
        /// Names under which other names can be looked up (protoc's "aggregates").
        var isAggregate: Bool { self == .package || self == .message || self == .enumeration || self == .service }
        /// Names a field or method can refer to.
        var isType: Bool { self == .message || self == .enumeration }

        var noun: String {
            switch self {
            case .package: "package"
            case .message: "message"
            case .enumeration: "enum"
            case .enumValue: "enum value"
            case .field: "field"
            case .oneof: "oneof"
            case .service: "service"
            case .method: "method"
            case .extensionField: "extension"
            }
        }
    }

    struct Symbol {
        var kind: Kind
        var file: String
        /// For messages: the descriptor (fields, ranges) used to resolve and check against.
        var message: Google_Protobuf_DescriptorProto?
        var enumeration: Google_Protobuf_EnumDescriptorProto?
        var field: Google_Protobuf_FieldDescriptorProto?
    }

    private(set) var symbols: [String: Symbol] = [:]

    /// Adds `name`; returns the existing symbol when the name is taken (packages may repeat).
    mutating func add(_ name: String, _ symbol: Symbol) -> Symbol? {
        if let existing = symbols[name] {
            if existing.kind == .package && symbol.kind == .package { return nil }
            return existing
        }
        symbols[name] = symbol
        return nil
    }

    mutating func update(_ name: String, _ change: (inout Symbol) -> Void) {
        if var symbol = symbols[name] {
            change(&symbol)
            symbols[name] = symbol
        }
    }

    subscript(name: String) -> Symbol? { symbols[name] }

    /// What a lookup found: the full name and symbol, or why it failed.
    enum Lookup {
        case found(String, Symbol)
        case notFound
        /// The first component resolved to an aggregate that lacks the rest (protoc's hint).
        case partial(resolvedTo: String)
    }

    /// Resolves `name` as written inside `scope` with protoc's rules: a leading dot means fully
    /// qualified; otherwise the innermost scope is searched first for the first component, and
    /// once it resolves to an aggregate the rest must be found under it.
    func lookup(_ name: String, in scope: String, typesOnly: Bool) -> Lookup {
        if name.hasPrefix(".") {
            let full = String(name.dropFirst())
            if let symbol = symbols[full], !typesOnly || symbol.kind.isType { return .found(full, symbol) }
            return .notFound
        }
        let first = name.split(separator: ".", maxSplits: 1).first.map(String.init) ?? name
        var scope = scope
        while true {
            let candidate = scope.isEmpty ? first : scope + "." + first
            if let symbol = symbols[candidate] {
                if first == name {
                    if !typesOnly || symbol.kind.isType { return .found(candidate, symbol) }
                } else if symbol.kind.isAggregate {
                    let full = scope.isEmpty ? name : scope + "." + name
                    if let found = symbols[full], !typesOnly || found.kind.isType { return .found(full, found) }
                    return .partial(resolvedTo: full)
                }
            }
            guard !scope.isEmpty else { return .notFound }
            scope = scope.lastIndex(of: ".").map { String(scope[..<$0]) } ?? ""
        }
    }
}
