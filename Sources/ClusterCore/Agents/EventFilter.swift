/// A value an event filter compares: from an envelope attribute, a payload field or a literal.
public enum FilterValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    /// As written in a filter.
    public var description: String {
        switch self {
        case .string(let text): "\"\(text)\""
        case .number(let number): number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag): String(flag)
        case .null: "null"
        }
    }
}

/// Why a filter does not parse, with the column (from 1) where it went wrong.
public struct FilterSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where, from 1.
    public var column: Int
    /// What is wrong.
    public var message: String
    /// `column N: message`.
    public var description: String { "column \(column): \(message)" }
}

/// A filter over an event, evaluated before its handler runs (DESIGN §4):
/// `type == "transaction.created" && amount > 1000`. Operators: `==`, `!=`, `<`, `<=`, `>`, `>=`,
/// `in [..]`, `&&`, `||`, `!`, parentheses; operands are dotted paths (resolved by the caller to
/// envelope attributes or payload fields), strings, numbers, `true`, `false`, `null`; a bare path
/// is true when it resolves to `true`, a non-empty string or a non-zero number. Values of
/// different kinds are unequal and unordered (the comparison is false). Pure.
public struct EventFilter: Sendable, Hashable, CustomStringConvertible {
    indirect enum Node: Sendable, Hashable {
        case path([String])
        case literal(FilterValue)
        case list([FilterValue])
        case compare(Node, String, Node)
        case member(Node, [FilterValue])
        case and(Node, Node)
        case or(Node, Node)
        case not(Node)
    }

    let root: Node
    /// The filter's text.
    public let description: String

    /// Parses `text`; the error names the column.
    public init(_ text: String) throws(FilterSyntaxError) {
        var parser = FilterParser(text)
        root = try parser.parseFilter()
        description = text
    }

    /// Every path the filter reads (so a host decodes only what it needs).
    public var paths: Set<String> {
        var found: Set<String> = []
        func visit(_ node: Node) {
            switch node {
            case .path(let parts): found.insert(parts.joined(separator: "."))
            case .literal, .list: break
            case .compare(let left, _, let right): visit(left); visit(right)
            case .member(let value, _): visit(value)
            case .and(let left, let right), .or(let left, let right): visit(left); visit(right)
            case .not(let inner): visit(inner)
            }
        }
        visit(root)
        return found
    }

    /// Whether the event passes; `lookup` resolves a dotted path (nil: absent, which equals `null`).
    public func matches(_ lookup: (String) -> FilterValue?) -> Bool {
        Self.truth(of: root, lookup)
    }

    private static func truth(of node: Node, _ lookup: (String) -> FilterValue?) -> Bool {
        switch node {
        case .and(let left, let right): return truth(of: left, lookup) && truth(of: right, lookup)
        case .or(let left, let right): return truth(of: left, lookup) || truth(of: right, lookup)
        case .not(let inner): return !truth(of: inner, lookup)
        case .member(let operand, let options): return options.contains(value(of: operand, lookup))
        case .compare(let left, let op, let right):
            let (a, b) = (value(of: left, lookup), value(of: right, lookup))
            switch op {
            case "==": return a == b
            case "!=": return a != b
            default:
                let order: Bool?
                switch (a, b) {
                case (.number(let x), .number(let y)): order = op == "<" ? x < y : op == "<=" ? x <= y : op == ">" ? x > y : x >= y
                case (.string(let x), .string(let y)): order = op == "<" ? x < y : op == "<=" ? x <= y : op == ">" ? x > y : x >= y
                default: order = nil
                }
                return order ?? false
            }
        case .path, .literal, .list:
            switch value(of: node, lookup) {
            case .bool(let flag): return flag
            case .string(let text): return !text.isEmpty
            case .number(let number): return number != 0
            case .null: return false
            }
        }
    }

    private static func value(of node: Node, _ lookup: (String) -> FilterValue?) -> FilterValue {
        switch node {
        case .path(let parts): lookup(parts.joined(separator: ".")) ?? .null
        case .literal(let value): value
        default: .bool(truth(of: node, lookup))
        }
    }
}

/// Recursive descent over the filter's characters.
struct FilterParser {
    private let characters: [Character]
    private var position = 0

    init(_ text: String) { characters = Array(text) }

    private func error(_ message: String) -> FilterSyntaxError { FilterSyntaxError(column: position + 1, message: message) }

    mutating func parseFilter() throws(FilterSyntaxError) -> EventFilter.Node {
        skipSpaces()
        guard position < characters.count else { throw error("the filter is empty") }
        let node = try parseOr()
        skipSpaces()
        guard position == characters.count else { throw error("unexpected \"\(characters[position])\"; expected &&, || or the end") }
        return node
    }

    private mutating func parseOr() throws(FilterSyntaxError) -> EventFilter.Node {
        var node = try parseAnd()
        while accept("||") { node = .or(node, try parseAnd()) }
        return node
    }

    private mutating func parseAnd() throws(FilterSyntaxError) -> EventFilter.Node {
        var node = try parseNot()
        while accept("&&") { node = .and(node, try parseNot()) }
        return node
    }

    private mutating func parseNot() throws(FilterSyntaxError) -> EventFilter.Node {
        skipSpaces()
        if peek("!") && !peek("!=") {
            position += 1
            return .not(try parseNot())
        }
        return try parseComparison()
    }

    private mutating func parseComparison() throws(FilterSyntaxError) -> EventFilter.Node {
        let left = try parseOperand()
        skipSpaces()
        for op in ["==", "!=", "<=", ">=", "<", ">"] where accept(op) {
            return .compare(left, op, try parseOperand())
        }
        if acceptWord("in") {
            skipSpaces()
            guard accept("[") else { throw error("expected [ after in") }
            var options: [FilterValue] = []
            skipSpaces()
            if !accept("]") {
                repeat {
                    guard case .literal(let value) = try parseOperand() else { throw error("a list holds literals only") }
                    options.append(value)
                } while accept(",")
                guard accept("]") else { throw error("expected , or ] in the list") }
            }
            return .member(left, options)
        }
        return left
    }

    private mutating func parseOperand() throws(FilterSyntaxError) -> EventFilter.Node {
        skipSpaces()
        guard position < characters.count else { throw error("expected a value or a field at the end") }
        let character = characters[position]
        if character == "(" {
            position += 1
            let inner = try parseOr()
            guard accept(")") else { throw error("expected )") }
            return inner
        }
        if character == "\"" || character == "'" { return .literal(.string(try parseString(quote: character))) }
        if character.isNumber || (character == "-" && position + 1 < characters.count && characters[position + 1].isNumber) {
            return .literal(.number(try parseNumber()))
        }
        if character.isLetter || character == "_" {
            var parts: [String] = [parseIdentifier()]
            while peek("."), position + 1 < characters.count, characters[position + 1].isLetter || characters[position + 1] == "_" {
                position += 1
                parts.append(parseIdentifier())
            }
            if parts.count == 1 {
                switch parts[0] {
                case "true": return .literal(.bool(true))
                case "false": return .literal(.bool(false))
                case "null": return .literal(.null)
                default: break
                }
            }
            return .path(parts)
        }
        throw error("unexpected \"\(character)\"; expected a field, a string, a number, true, false, null or (")
    }

    private mutating func parseIdentifier() -> String {
        let start = position
        while position < characters.count, characters[position].isLetter || characters[position].isNumber || characters[position] == "_" {
            position += 1
        }
        return String(characters[start..<position])
    }

    private mutating func parseString(quote: Character) throws(FilterSyntaxError) -> String {
        let start = position
        position += 1
        var text = ""
        while position < characters.count {
            let character = characters[position]
            position += 1
            if character == quote { return text }
            if character == "\\", position < characters.count {
                let escaped = characters[position]
                position += 1
                text.append(escaped == "n" ? "\n" : escaped == "t" ? "\t" : escaped)
            } else {
                text.append(character)
            }
        }
        position = start
        throw error("the string is not closed")
    }

    private mutating func parseNumber() throws(FilterSyntaxError) -> Double {
        let start = position
        if characters[position] == "-" { position += 1 }
        while position < characters.count, characters[position].isNumber || characters[position] == "." || characters[position] == "e"
                || characters[position] == "E" || ((characters[position] == "-" || characters[position] == "+") && "eE".contains(characters[position - 1])) {
            position += 1
        }
        guard let number = Double(String(characters[start..<position])) else {
            position = start
            throw error("\"\(String(characters[start..<position]))\" is not a number")
        }
        return number
    }

    private mutating func skipSpaces() {
        while position < characters.count, characters[position].isWhitespace { position += 1 }
    }

    private func peek(_ token: String) -> Bool {
        let end = position + token.count
        return end <= characters.count && String(characters[position..<end]) == token
    }

    private mutating func accept(_ token: String) -> Bool {
        skipSpaces()
        guard peek(token) else { return false }
        position += token.count
        return true
    }

    private mutating func acceptWord(_ word: String) -> Bool {
        skipSpaces()
        let end = position + word.count
        guard peek(word), end == characters.count || !(characters[end].isLetter || characters[end].isNumber || characters[end] == "_") else { return false }
        position = end
        return true
    }
}
