/// Splits `.proto` source into tokens the way protoc's tokenizer does: identifiers, integers
/// (decimal, hex, octal), floats, quoted strings, single-character symbols; `//` and `/* */`
/// comments and white space are skipped.
struct Tokenizer {
    private let bytes: [UInt8]
    private let file: String
    private var position = 0
    private var line = 1
    private var column = 1

    init(source: String, file: String) {
        self.bytes = Array(source.utf8)
        self.file = file
    }

    /// Every token, ending with one `.end`.
    mutating func tokenize() throws(CompileError) -> [Token] {
        var tokens: [Token] = []
        while true {
            try skipWhitespaceAndComments()
            let location = SourceLocation(file: file, line: line, column: column)
            guard let byte = peek() else {
                tokens.append(Token(kind: .end, text: "", location: location))
                return tokens
            }
            let start = position
            let kind: Token.Kind
            if isLetter(byte) {
                while let next = peek(), isLetter(next) || isDigit(next) { advance() }
                kind = .identifier
            } else if isDigit(byte) || (byte == UInt8(ascii: ".") && peek(1).map(isDigit) == true) {
                kind = try number()
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                try string(quote: byte, location: location)
                kind = .string
            } else if byte < 0x20 || byte >= 0x7F {
                throw CompileError(location, "Invalid control characters encountered in text.")
            } else {
                advance()
                kind = .symbol
            }
            tokens.append(Token(kind: kind, text: String(decoding: bytes[start..<position], as: UTF8.self), location: location))
        }
    }

    private func peek(_ ahead: Int = 0) -> UInt8? {
        position + ahead < bytes.count ? bytes[position + ahead] : nil
    }

    private mutating func advance() {
        if bytes[position] == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if bytes[position] == UInt8(ascii: "\t") {
            column += 8 - (column - 1) % 8  // protoc counts tabs to the next multiple of 8
        } else if bytes[position] & 0xC0 != 0x80 {
            column += 1
        }
        position += 1
    }

    private func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_")
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
    }

    private mutating func skipWhitespaceAndComments() throws(CompileError) {
        while let byte = peek() {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                || byte == 0x0B || byte == 0x0C {
                advance()
            } else if byte == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "/") {
                while let next = peek(), next != UInt8(ascii: "\n") { advance() }
            } else if byte == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "*") {
                let start = SourceLocation(file: file, line: line, column: column)
                advance()
                advance()
                while true {
                    guard let next = peek() else { throw CompileError(start, "End-of-file inside block comment.") }
                    if next == UInt8(ascii: "*"), peek(1) == UInt8(ascii: "/") {
                        advance()
                        advance()
                        break
                    }
                    advance()
                }
            } else {
                return
            }
        }
    }

    private mutating func number() throws(CompileError) -> Token.Kind {
        let location = SourceLocation(file: file, line: line, column: column)
        if peek() == UInt8(ascii: "0"), let x = peek(1), x == UInt8(ascii: "x") || x == UInt8(ascii: "X") {
            advance()
            advance()
            guard let digit = peek(), isHexDigit(digit) else { throw CompileError(location, "\"0x\" must be followed by hex digits.") }
            while let next = peek(), isHexDigit(next) { advance() }
            if let next = peek(), isLetter(next) { throw CompileError(location, "Need space between number and identifier.") }
            return .integer
        }
        var isFloat = false
        while let next = peek(), isDigit(next) { advance() }
        if peek() == UInt8(ascii: ".") {
            isFloat = true
            advance()
            while let next = peek(), isDigit(next) { advance() }
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            isFloat = true
            advance()
            if let sign = peek(), sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { advance() }
            guard let digit = peek(), isDigit(digit) else { throw CompileError(location, "\"e\" must be followed by exponent.") }
            while let next = peek(), isDigit(next) { advance() }
        }
        if let f = peek(), isFloat, f == UInt8(ascii: "f") || f == UInt8(ascii: "F") { advance() }
        if let next = peek(), isLetter(next) { throw CompileError(location, "Need space between number and identifier.") }
        return isFloat ? .float : .integer
    }

    private mutating func string(quote: UInt8, location: SourceLocation) throws(CompileError) {
        advance()
        while true {
            guard let byte = peek(), byte != UInt8(ascii: "\n") else {
                throw CompileError(location, "Unexpected end of string.")
            }
            advance()
            if byte == quote { return }
            if byte == UInt8(ascii: "\\") { try escapeSequence(string: location) }
        }
    }

    /// Checks the escape after a backslash as protoc's tokenizer does, reporting a bad one at the
    /// character where it goes wrong; the parser resolves the escapes later.
    private mutating func escapeSequence(string location: SourceLocation) throws(CompileError) {
        func fail(_ message: String) -> CompileError { CompileError(SourceLocation(file: file, line: line, column: column), message) }
        func consume(_ accepts: (UInt8) -> Bool) -> Bool {
            guard let next = peek(), next != UInt8(ascii: "\n"), accepts(next) else { return false }
            advance()
            return true
        }
        guard let escape = peek(), escape != UInt8(ascii: "\n") else { throw CompileError(location, "Unexpected end of string.") }
        if Array("abfnrtv\\?'\"".utf8).contains(escape) || (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(escape) {
            advance()  // further octal digits are ordinary characters to the tokenizer
        } else if escape == UInt8(ascii: "x") {
            advance()
            guard consume(isHexDigit) else { throw fail("Expected hex digits for escape sequence.") }
        } else if escape == UInt8(ascii: "u") {
            advance()
            for _ in 0..<4 where !consume(isHexDigit) { throw fail("Expected four hex digits for \\u escape sequence.") }
        } else if escape == UInt8(ascii: "U") {
            advance()
            // Eight hex digits, at most 0010ffff.
            let valid = consume { $0 == UInt8(ascii: "0") } && consume { $0 == UInt8(ascii: "0") }
                && consume { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: "1") }
                && (0..<5).allSatisfy { _ in consume(isHexDigit) }
            guard valid else { throw fail("Expected eight hex digits up to 10ffff for \\U escape sequence") }
        } else {
            throw fail("Invalid escape sequence in string literal.")
        }
    }
}
