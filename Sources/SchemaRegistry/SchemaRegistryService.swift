import Foundation
import ProtoSchema

/// A version as clients name it: a number or the latest.
public enum VersionSelector: Sendable, Hashable {
    /// The highest live version.
    case latest
    /// This version.
    case number(Int32)

    /// Parses `latest`, `-1` or a number from 1 to 2^31-1 (42202 otherwise).
    public init(parsing text: String) throws(RegistryError) {
        if text == "latest" || text == "-1" {
            self = .latest
        } else if let number = Int32(text), number >= 1 {
            self = .number(number)
        } else {
            throw .invalidVersion(text)
        }
    }
}

/// A subject version with its schema.
public struct SubjectSchema: Sendable, Hashable {
    /// The subject.
    public var subject: String
    /// The version.
    public var version: Int32
    /// The schema, with its global id.
    public var schema: RegisteredSchema
    /// Soft-deleted.
    public var deleted: Bool
}

/// The registry's operations (Confluent Schema Registry's, for PROTOBUF), over a store: reads
/// from the local state, writes decided against the state and committed as records.
public final class SchemaRegistryService: Sendable {
    /// Where the state lives.
    public let store: any RegistryStore
    /// Compiles submissions and caches stored schemas.
    public let compilation: SchemaCompilation
    private let checker = CompatibilityChecker()
    /// The largest record a registration may commit, JSON-encoded as the node's metadata log
    /// stores it (the schema's text and its descriptor's fingerprint): the log's 1 MiB record
    /// limit less room for the record's framing.
    public let maxRecordBytes: Int

    /// A service over `store`, taking schemas of at most `maxSchemaBytes` whose records are at
    /// most `maxRecordBytes`.
    public init(store: any RegistryStore, maxSchemaBytes: Int = 1 << 20, maxRecordBytes: Int = (1 << 20) - 1024) {
        self.store = store
        self.maxRecordBytes = maxRecordBytes
        compilation = SchemaCompilation(maxSchemaBytes: maxSchemaBytes)
        compileStoredSchemasAhead()
    }

    /// Compiles every stored schema in the background, so validating an event on the node's
    /// socket thread finds its schema compiled (a registration compiles its own, see `register`).
    private func compileStoredSchemasAhead() {
        let state = store.registryState
        guard !state.schemas.isEmpty else { return }
        DispatchQueue.global(qos: .utility).async { [compilation] in
            for id in state.schemas.keys.sorted() { _ = try? compilation.compiled(id: id, in: state) }
        }
    }

    /// The state now.
    public var state: RegistryState { store.registryState }

    // MARK: Subjects and versions

    /// Registers `submission` under `subject`: the existing id when the subject already has this
    /// schema, else a new version (reusing the global id of the same schema elsewhere), after
    /// the compatibility check of the subject's level. Returns (id, version).
    @discardableResult
    public func register(subject: String, _ submission: SchemaSubmission) throws -> (id: Int32, version: Int32) {
        try Self.validate(subject: subject)
        // Compiled before writes are excluded (a compile takes milliseconds; the store's lock also
        // guards the node's topic metadata). References name immutable versions, so the result
        // holds unless one was removed meanwhile, which is checked under the lock.
        // The record carries the text: one too large for the store is refused before compiling.
        if submission.schema.utf8.count > maxRecordBytes { throw RegistryError.tooLarge(submission.schema.utf8.count, limit: maxRecordBytes) }
        let compiled = try compilation.compile(submission, in: state)
        let registered: (id: Int32, version: Int32) = try store.updateRegistry { state in
            for reference in submission.references
            where state.subjects[reference.subject]?.versions.contains(where: { $0.version == reference.version }) != true {
                throw RegistryError.invalidSchema("reference \(reference.name) names subject '\(reference.subject)' version \(reference.version), which does not exist")
            }
            let subjectState = state.subjects[subject] ?? SubjectState()
            // An identical schema answers with its id, even in READONLY (as Confluent).
            for entry in subjectState.liveVersions where state.schemas[entry.id]?.fingerprint == compiled.fingerprint {
                if submission.id == nil || submission.id == entry.id { return (nil, (entry.id, entry.version)) }
            }
            let mode = state.effectiveMode(subject)
            if mode == .readOnly { throw RegistryError.readOnly(subject) }
            if submission.id != nil || submission.version != nil, mode != .importing {
                throw RegistryError(42205, "Subject \(subject) is not in import mode: an id or version is given only when importing")
            }
            if mode != .importing {
                let report = try check(compiled, subject: subject, against: nil, in: state)
                if !report.isCompatible { throw Self.incompatible(subject, report, state.effectiveLevel(subject)) }
            }
            let existing = state.idsByFingerprint[compiled.fingerprint].flatMap { state.schemas[$0] }
            var id = existing?.id ?? state.nextID
            if let wanted = submission.id {
                if let other = state.schemas[wanted], other.fingerprint != compiled.fingerprint {
                    throw RegistryError(42205, "Overwrite new schema with id \(wanted) is not permitted.")
                }
                id = wanted
            }
            let version = submission.version ?? subjectState.highestVersion + 1
            if subjectState.versions.contains(where: { $0.version == version }) {
                throw RegistryError(42205, "Subject \(subject) already has version \(version)")
            }
            let schema = existing ?? RegisteredSchema(id: id, schema: submission.schema, references: submission.references, fingerprint: compiled.fingerprint)
            let record = RegistryRecord.schemaRegistered(subject: subject, version: version, schema: schema)
            let recordBytes = try JSONEncoder().encode(record).count
            guard recordBytes <= maxRecordBytes else {
                throw RegistryError(42209, "Register operation failed because schema is too large to store: its registry record (the text and the compiled descriptor's fingerprint) is \(recordBytes) bytes, more than the limit of \(maxRecordBytes); split it into schemas that reference each other")
            }
            return (record, (id, version))
        }
        compilation.remember(compiled, id: registered.id)
        return registered
    }

    /// The version of `subject` holding `submission`'s schema (40401: no such subject; 40403: not under it).
    public func lookup(subject: String, _ submission: SchemaSubmission, includingDeleted deleted: Bool = false) throws -> SubjectSchema {
        let state = self.state
        guard let subjectState = state.subjects[subject], !(deleted ? subjectState.versions : subjectState.liveVersions).isEmpty else {
            throw RegistryError.subjectNotFound(subject)
        }
        let compiled = try compilation.compile(submission, in: state)
        for entry in subjectState.versions.reversed() where deleted || !entry.deleted {
            if let schema = state.schemas[entry.id], schema.fingerprint == compiled.fingerprint {
                return SubjectSchema(subject: subject, version: entry.version, schema: schema, deleted: entry.deleted)
            }
        }
        throw RegistryError.schemaNotFound()
    }

    /// Subject names (live, or with `deleted` also soft-deleted ones), optionally by prefix.
    public func subjects(includingDeleted deleted: Bool = false, prefix: String? = nil) -> [String] {
        state.subjectNames(includingDeleted: deleted).filter { prefix.map($0.hasPrefix) ?? true }
    }

    /// A subject's version numbers, ascending.
    public func versions(of subject: String, includingDeleted deleted: Bool = false) throws -> [Int32] {
        let entries = state.subjects[subject].map { deleted ? $0.versions : $0.liveVersions } ?? []
        guard !entries.isEmpty else { throw RegistryError.subjectNotFound(subject) }
        return entries.map(\.version)
    }

    /// One version of a subject with its schema.
    public func version(of subject: String, _ selector: VersionSelector, includingDeleted deleted: Bool = false) throws -> SubjectSchema {
        try Self.find(subject, selector, deleted: deleted, in: state)
    }

    private static func find(_ subject: String, _ selector: VersionSelector, deleted: Bool, in state: RegistryState) throws -> SubjectSchema {
        guard let subjectState = state.subjects[subject], !(deleted ? subjectState.versions : subjectState.liveVersions).isEmpty else {
            throw RegistryError.subjectNotFound(subject)
        }
        let entry: SubjectVersion?
        switch selector {
        case .latest: entry = subjectState.liveVersions.last ?? (deleted ? subjectState.versions.last : nil)
        case .number(let number): entry = subjectState.versions.first { $0.version == number && (deleted || !$0.deleted) }
        }
        guard let entry, let schema = state.schemas[entry.id] else {
            if case .number(let number) = selector { throw RegistryError.versionNotFound(String(number)) }
            throw RegistryError.subjectNotFound(subject)
        }
        return SubjectSchema(subject: subject, version: entry.version, schema: schema, deleted: entry.deleted)
    }

    /// Soft-deletes every version of a subject, or (permanent, after a soft delete) removes
    /// them; returns the versions deleted.
    public func deleteSubject(_ subject: String, permanent: Bool = false) throws -> [Int32] {
        try store.updateRegistry { state in
            guard let subjectState = state.subjects[subject], !subjectState.versions.isEmpty else { throw RegistryError.subjectNotFound(subject) }
            if state.effectiveMode(subject) == .readOnly { throw RegistryError.readOnly(subject) }
            for entry in subjectState.versions {
                let users = state.referencingIDs(subject: subject, version: entry.version)
                if !users.isEmpty { throw RegistryError.referenced(subject, entry.version, by: users) }
            }
            if permanent {
                guard subjectState.liveVersions.isEmpty else { throw RegistryError.subjectNotSoftDeleted(subject) }
                return (.subjectDeleted(subject: subject, permanent: true), subjectState.versions.map(\.version))
            }
            guard !subjectState.liveVersions.isEmpty else { throw RegistryError.subjectSoftDeleted(subject) }
            return (.subjectDeleted(subject: subject, permanent: false), subjectState.liveVersions.map(\.version))
        }
    }

    /// Soft-deletes one version, or (permanent, after a soft delete) removes it; returns its number.
    public func deleteVersion(of subject: String, _ selector: VersionSelector, permanent: Bool = false) throws -> Int32 {
        try store.updateRegistry { state in
            let found = try Self.find(subject, selector, deleted: true, in: state)
            if state.effectiveMode(subject) == .readOnly { throw RegistryError.readOnly(subject) }
            let users = state.referencingIDs(subject: subject, version: found.version)
            if !users.isEmpty { throw RegistryError.referenced(subject, found.version, by: users) }
            if permanent && !found.deleted { throw RegistryError.versionNotSoftDeleted(subject, found.version) }
            if !permanent && found.deleted { throw RegistryError.versionSoftDeleted(subject, found.version) }
            return (.versionDeleted(subject: subject, version: found.version, permanent: permanent), found.version)
        }
    }

    /// Ids of the schemas that import `subject`'s `version`.
    public func referencedBy(subject: String, _ selector: VersionSelector) throws -> [Int32] {
        let state = self.state
        let found = try Self.find(subject, selector, deleted: true, in: state)
        return state.referencingIDs(subject: subject, version: found.version)
    }

    // MARK: Schemas by id

    /// The schema with global id `id` (40403 when unknown).
    public func schema(id: Int32) throws -> RegisteredSchema {
        guard let schema = state.schemas[id] else { throw RegistryError.schemaNotFound(id) }
        return schema
    }

    /// The (subject, version) pairs using schema `id`.
    public func usages(of id: Int32, includingDeleted deleted: Bool = false) throws -> [(subject: String, version: Int32)] {
        let state = self.state
        guard state.schemas[id] != nil else { throw RegistryError.schemaNotFound() }
        return state.usages(of: id, includingDeleted: deleted)
    }

    /// Schema `id` compiled (for validation and the codec).
    public func compiled(id: Int32) throws -> CompiledSchema {
        try compilation.compiled(id: id, in: state)
    }

    // MARK: Compatibility

    /// Whether `submission` may follow `subject`'s versions (one version, or with nil the
    /// versions the subject's level checks), with every violation.
    public func checkCompatibility(subject: String, _ submission: SchemaSubmission, against selector: VersionSelector?) throws -> (compatible: Bool, messages: [String]) {
        let state = self.state
        let compiled = try compilation.compile(submission, in: state)
        let report = try check(compiled, subject: subject, against: selector, in: state)
        return (report.isCompatible, Self.messages(report, level: state.effectiveLevel(subject)))
    }

    private func check(_ compiled: CompiledSchema, subject: String, against selector: VersionSelector?, in state: RegistryState) throws -> CompatibilityReport {
        let live = state.subjects[subject]?.liveVersions ?? []
        let level = state.effectiveLevel(subject)
        let history: [SubjectVersion]
        switch selector {
        case nil: history = live
        case .latest?: history = live.last.map { [$0] } ?? []
        case .number(let number)?:
            guard let entry = live.first(where: { $0.version == number }) else {
                if live.isEmpty { throw RegistryError.subjectNotFound(subject) }
                throw RegistryError.versionNotFound(String(number))
            }
            history = [entry]
        }
        let versions = try history.map { try compilation.compiled(id: $0.id, in: state).version }
        // One named version is checked under the level's direction, as Confluent does.
        let checkedLevel: CompatibilityLevel = selector == nil ? level : Self.nonTransitive(level)
        return checker.check(compiled.version, against: versions, level: checkedLevel)
    }

    private static func nonTransitive(_ level: CompatibilityLevel) -> CompatibilityLevel {
        switch level {
        case .backwardTransitive: .backward
        case .forwardTransitive: .forward
        case .fullTransitive: .full
        default: level
        }
    }

    static func messages(_ report: CompatibilityReport, level: CompatibilityLevel) -> [String] {
        guard !report.isCompatible else { return [] }
        return report.violations.map(\.message) + ["{compatibility: '\(level.rawValue)'}"]
    }

    static func incompatible(_ subject: String, _ report: CompatibilityReport, _ level: CompatibilityLevel) -> RegistryError {
        RegistryError(409, "Schema being registered is incompatible with an earlier schema for subject \"\(subject)\", details: [\(messages(report, level: level).joined(separator: ", "))]")
    }

    // MARK: Levels and modes

    /// The level of `subject` (40408 when it has none and `defaultToGlobal` is false), or the global one.
    public func level(subject: String?, defaultToGlobal: Bool = false) throws -> CompatibilityLevel {
        let state = self.state
        guard let subject else { return state.globalLevel }
        if let level = state.subjects[subject]?.level { return level }
        if defaultToGlobal { return state.globalLevel }
        throw RegistryError.noSubjectLevel(subject)
    }

    /// Sets the level of `subject`, or the global one.
    public func setLevel(_ text: String, subject: String?) throws -> CompatibilityLevel {
        guard let level = CompatibilityLevel(rawValue: text.uppercased()) else { throw RegistryError.invalidLevel(text) }
        if let subject { try Self.validate(subject: subject) }
        return try store.updateRegistry { state in
            if state.effectiveMode(subject) == .readOnly, let subject { throw RegistryError.readOnly(subject) }
            return (.levelSet(subject: subject, level: level), level)
        }
    }

    /// Removes `subject`'s level (or resets the global one); returns the level it had.
    public func deleteLevel(subject: String?) throws -> CompatibilityLevel {
        try store.updateRegistry { state in
            guard let subject else { return (.levelDeleted(subject: nil), state.globalLevel) }
            guard let level = state.subjects[subject]?.level else { throw RegistryError.subjectNotFound(subject) }
            return (.levelDeleted(subject: subject), level)
        }
    }

    /// The mode of `subject` (40409 when it has none and `defaultToGlobal` is false), or the global one.
    public func mode(subject: String?, defaultToGlobal: Bool = false) throws -> RegistryMode {
        let state = self.state
        guard let subject else { return state.globalMode }
        if let mode = state.subjects[subject]?.mode { return mode }
        if defaultToGlobal { return state.globalMode }
        throw RegistryError.noSubjectMode(subject)
    }

    /// Sets the mode of `subject`, or the global one.
    public func setMode(_ text: String, subject: String?) throws -> RegistryMode {
        guard let mode = RegistryMode(rawValue: text.uppercased()) else { throw RegistryError.invalidMode(text) }
        if let subject { try Self.validate(subject: subject) }
        return try store.updateRegistry { _ in (.modeSet(subject: subject, mode: mode), mode) }
    }

    /// Removes `subject`'s mode (or resets the global one); returns the mode it had.
    public func deleteMode(subject: String?) throws -> RegistryMode {
        try store.updateRegistry { state in
            guard let subject else { return (.modeDeleted(subject: nil), state.globalMode) }
            guard let mode = state.subjects[subject]?.mode else { throw RegistryError.subjectNotFound(subject) }
            return (.modeDeleted(subject: subject), mode)
        }
    }

    static func validate(subject: String) throws(RegistryError) {
        guard !subject.isEmpty, subject.count <= 255, !subject.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidSubject(subject)
        }
    }
}
