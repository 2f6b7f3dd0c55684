/// A refused registry operation, with Confluent Schema Registry's error code and message, so
/// its clients recognise it (`{"error_code": 40401, "message": …}` over REST).
public struct RegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Confluent's error code: 40401, 40402, 40403, 409, 42201, 50001, …
    public var code: Int
    /// What went wrong, naming the subject, version, id or field.
    public var message: String

    /// An error with a code and message.
    public init(_ code: Int, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The HTTP status: the code's first three digits.
    public var httpStatus: Int { code < 1000 ? code : code / 100 }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }

    static func subjectNotFound(_ subject: String) -> Self { Self(40401, "Subject '\(subject)' not found.") }
    static func versionNotFound(_ version: String) -> Self { Self(40402, "Version \(version) not found.") }
    static func schemaNotFound(_ id: Int32? = nil) -> Self { Self(40403, id.map { "Schema \($0) not found" } ?? "Schema not found") }
    static func subjectSoftDeleted(_ subject: String) -> Self {
        Self(40404, "Subject '\(subject)' was soft deleted.Set permanent=true to delete permanently")
    }
    static func subjectNotSoftDeleted(_ subject: String) -> Self {
        Self(40405, "Subject '\(subject)' was not deleted first before being permanently deleted")
    }
    static func versionSoftDeleted(_ subject: String, _ version: Int32) -> Self {
        Self(40406, "Subject '\(subject)' Version \(version) was soft deleted.Set permanent=true to delete permanently")
    }
    static func versionNotSoftDeleted(_ subject: String, _ version: Int32) -> Self {
        Self(40407, "Subject '\(subject)' Version \(version) was not deleted first before being permanently deleted")
    }
    static func noSubjectLevel(_ subject: String) -> Self {
        Self(40408, "Subject '\(subject)' does not have subject-level compatibility configured")
    }
    static func noSubjectMode(_ subject: String) -> Self { Self(40409, "Subject '\(subject)' does not have subject-level mode configured") }
    static func invalidSchema(_ detail: String) -> Self { Self(42201, "Invalid schema: \(detail)") }
    static func invalidVersion(_ text: String) -> Self {
        Self(42202, "The specified version '\(text)' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")
    }
    static func invalidLevel(_ text: String) -> Self {
        Self(42203, "Invalid compatibility level '\(text)'. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")
    }
    static func invalidMode(_ text: String) -> Self { Self(42204, "Invalid mode '\(text)'. Valid values are READWRITE, READONLY, and IMPORT.") }
    static func readOnly(_ subject: String) -> Self { Self(42205, "Subject \(subject) is in read-only mode") }
    static func referenced(_ subject: String, _ version: Int32, by ids: [Int32]) -> Self {
        Self(42206, "Subject '\(subject)' version \(version) is referenced by schema(s) \(ids.map(String.init).joined(separator: ", ")); delete those first")
    }
    static func invalidSubject(_ subject: String) -> Self {
        Self(42208, "Invalid subject name '\(subject)': a subject is 1 to 255 characters without control characters")
    }
    static func tooLarge(_ bytes: Int, limit: Int) -> Self {
        Self(42209, "Register operation failed because schema is too large (\(bytes) bytes; at most \(limit))")
    }
}
