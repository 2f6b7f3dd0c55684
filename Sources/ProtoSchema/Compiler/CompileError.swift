/// A problem in `.proto` source, reported as protoc does: `file:line:column: message`.
public struct CompileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is.
    public var location: SourceLocation
    /// What is wrong, for a person.
    public var message: String

    /// An error at `location`.
    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    /// `file:line:column: message`.
    public var description: String { "\(location): \(message)" }
}

/// Every problem found in one compilation (protoc reports them all, not only the first).
public struct CompileErrors: Error, Sendable, Hashable, CustomStringConvertible {
    /// The problems, in the order found.
    public var errors: [CompileError]

    /// A set of problems.
    public init(_ errors: [CompileError]) { self.errors = errors }

    /// One problem per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
