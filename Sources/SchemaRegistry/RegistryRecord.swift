import ProtoSchema

/// One change to the registry, as stored in the metadata log. Records carry every decision
/// (ids, versions, fingerprints), so applying them needs no compiler and replays exactly.
public enum RegistryRecord: Codable, Hashable, Sendable {
    /// A new version of `subject` with `schema` (a new global id, or one reused).
    case schemaRegistered(subject: String, version: Int32, schema: RegisteredSchema)
    /// A version soft-deleted, or (permanent) removed.
    case versionDeleted(subject: String, version: Int32, permanent: Bool)
    /// Every version of a subject soft-deleted (with its level and mode), or (permanent) removed.
    case subjectDeleted(subject: String, permanent: Bool)
    /// The compatibility level of a subject, or the global one (`subject` nil).
    case levelSet(subject: String?, level: CompatibilityLevel)
    /// A subject's level removed (the global one applies), or the global one reset to BACKWARD.
    case levelDeleted(subject: String?)
    /// The mode of a subject, or the global one.
    case modeSet(subject: String?, mode: RegistryMode)
    /// A subject's mode removed, or the global one reset to READWRITE.
    case modeDeleted(subject: String?)
}
