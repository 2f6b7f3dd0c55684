/// A position in a `.proto` file, 1-based as protoc reports it (`file:line:column`).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file as it was named on the command line or in an import.
    public var file: String
    /// Line, from 1.
    public var line: Int
    /// Column, from 1.
    public var column: Int

    /// A location in `file`.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`.
    public var description: String { "\(file):\(line):\(column)" }
}

/// One token of `.proto` source.
struct Token: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case identifier
        case integer
        case float
        case string
        case symbol
        case end
    }

    var kind: Kind
    /// The token's text as written (a string token keeps its quotes and escapes).
    var text: String
    var location: SourceLocation
}
