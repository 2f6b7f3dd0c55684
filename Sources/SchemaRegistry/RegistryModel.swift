import ProtoSchema

/// A schema of another subject that a schema imports: `name` is the import path as written in
/// the `.proto` (`import "common/money.proto"`), `subject` and `version` locate its text.
public struct SchemaReference: Codable, Hashable, Sendable {
    /// The import path.
    public var name: String
    /// The subject holding the imported schema.
    public var subject: String
    /// Its version in that subject.
    public var version: Int32

    /// A reference.
    public init(name: String, subject: String, version: Int32) {
        self.name = name
        self.subject = subject
        self.version = version
    }
}

/// Whether a subject (or the registry) takes writes (Confluent's modes).
public enum RegistryMode: String, Codable, Hashable, Sendable, CaseIterable {
    /// Registrations and deletes are accepted.
    case readWrite = "READWRITE"
    /// Registrations of new schemas and deletes are refused.
    case readOnly = "READONLY"
    /// Registrations must carry their id and version (migrating from another registry).
    case importing = "IMPORT"
}

/// A schema under its global id, shared by every subject version that registered the same content.
public struct RegisteredSchema: Codable, Hashable, Sendable {
    /// The global id.
    public var id: Int32
    /// The schema as first registered (`.proto` text).
    public var schema: String
    /// Its imports of other subjects' schemas.
    public var references: [SchemaReference]
    /// Identity of the content: the compiled descriptor (names, numbers, types, options — not
    /// whitespace or comments) with the references; equal fingerprints are the same schema.
    public var fingerprint: String

    /// A schema.
    public init(id: Int32, schema: String, references: [SchemaReference], fingerprint: String) {
        self.id = id
        self.schema = schema
        self.references = references
        self.fingerprint = fingerprint
    }
}

/// One version of a subject.
public struct SubjectVersion: Codable, Hashable, Sendable {
    /// 1, 2, … within the subject (never reused, also after deletes).
    public var version: Int32
    /// The schema's global id.
    public var id: Int32
    /// Soft-deleted: hidden from reads unless asked for, skipped by compatibility checks.
    public var deleted: Bool
}

/// A subject: its versions and its own compatibility level and mode, if set.
public struct SubjectState: Codable, Hashable, Sendable {
    /// Every version not permanently deleted, oldest first.
    public var versions: [SubjectVersion] = []
    /// The subject's compatibility level (nil: the global one applies).
    public var level: CompatibilityLevel?
    /// The subject's mode (nil: the global one applies).
    public var mode: RegistryMode?
    /// The highest version held, soft-deleted ones included: the next is one more (so a
    /// soft-deleted number is never given again; after a permanent delete, as Confluent, it can be).
    public var highestVersion: Int32 { versions.map(\.version).max() ?? 0 }

    /// The versions not soft-deleted.
    public var liveVersions: [SubjectVersion] { versions.filter { !$0.deleted } }
}
