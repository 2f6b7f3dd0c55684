/// Where declarations were written, so the linker can report its errors at the right line.
/// Keys are full names (`pkg.Message`, `pkg.Message.field`) plus a suffix for what is meant.
struct SourceLocations: Sendable {
    /// Declarations by full name (messages, enums, fields, values, services, methods).
    var declarations: [String: SourceLocation] = [:]
    /// The type reference of a field or method (`pkg.M.field` or `pkg.S.Method.input`).
    var typeReferences: [String: SourceLocation] = [:]
    /// Field numbers, by full field name.
    var numbers: [String: SourceLocation] = [:]
    /// Option statements, in the order written, by the options' owner.
    var options: [String: [SourceLocation]] = [:]
    /// Default values, by full field name.
    var defaults: [String: SourceLocation] = [:]
    /// Import statements by imported file (where the file name is written).
    var imports: [String: SourceLocation] = [:]
    /// Each import statement's `import` keyword, in the order written.
    var importStatements: [SourceLocation] = []
    /// The package statement.
    var package: SourceLocation?
}
