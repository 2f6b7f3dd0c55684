import ProtoSchema

/// The registry's state: a deterministic state machine applied from ``RegistryRecord``s of the
/// metadata log (on several nodes, the log the controller replicates). No I/O, no clock.
public struct RegistryState: Codable, Hashable, Sendable {
    /// Schemas by global id (kept while any subject version uses them).
    public private(set) var schemas: [Int32: RegisteredSchema] = [:]
    /// Subjects by name.
    public private(set) var subjects: [String: SubjectState] = [:]
    /// The level of subjects without their own.
    public private(set) var globalLevel: CompatibilityLevel = .backward
    /// The mode of subjects without their own.
    public private(set) var globalMode: RegistryMode = .readWrite
    /// The next new global id.
    public private(set) var nextID: Int32 = 1
    /// Global ids by schema fingerprint (the same content always gets the same id).
    public private(set) var idsByFingerprint: [String: Int32] = [:]

    /// An empty registry (BACKWARD, READWRITE).
    public init() {}

    /// Applies one record.
    public mutating func apply(_ record: RegistryRecord) {
        switch record {
        case .schemaRegistered(let subject, let version, let schema):
            if schemas[schema.id] == nil {
                schemas[schema.id] = schema
                idsByFingerprint[schema.fingerprint] = schema.id
            }
            nextID = max(nextID, schema.id &+ 1)
            var state = subjects[subject] ?? SubjectState()
            state.versions.append(SubjectVersion(version: version, id: schema.id, deleted: false))
            subjects[subject] = state
        case .versionDeleted(let subject, let version, let permanent):
            guard var state = subjects[subject], let index = state.versions.firstIndex(where: { $0.version == version }) else { return }
            if permanent {
                state.versions.remove(at: index)
            } else {
                state.versions[index].deleted = true
            }
            if state.liveVersions.isEmpty {
                state.level = nil
                state.mode = nil
            }
            subjects[subject] = state
            dropUnusedSchemas()
        case .subjectDeleted(let subject, let permanent):
            guard var state = subjects[subject] else { return }
            if permanent {
                state.versions = []
            } else {
                for index in state.versions.indices { state.versions[index].deleted = true }
            }
            state.level = nil
            state.mode = nil
            subjects[subject] = state
            dropUnusedSchemas()
        case .levelSet(let subject, let level):
            if let subject { subjects[subject, default: SubjectState()].level = level } else { globalLevel = level }
        case .levelDeleted(let subject):
            if let subject { subjects[subject]?.level = nil } else { globalLevel = .backward }
        case .modeSet(let subject, let mode):
            if let subject { subjects[subject, default: SubjectState()].mode = mode } else { globalMode = mode }
        case .modeDeleted(let subject):
            if let subject { subjects[subject]?.mode = nil } else { globalMode = .readWrite }
        }
    }

    /// Schemas no version refers to any more are forgotten (their ids are never given again).
    private mutating func dropUnusedSchemas() {
        let used = Set(subjects.values.flatMap { $0.versions.map(\.id) })
        for id in schemas.keys where !used.contains(id) {
            if let removed = schemas.removeValue(forKey: id), idsByFingerprint[removed.fingerprint] == id {
                idsByFingerprint[removed.fingerprint] = nil
            }
        }
    }

    // MARK: Queries

    /// The level that applies to `subject`.
    public func effectiveLevel(_ subject: String?) -> CompatibilityLevel {
        subject.flatMap { subjects[$0]?.level } ?? globalLevel
    }

    /// The mode that applies to `subject`.
    public func effectiveMode(_ subject: String?) -> RegistryMode {
        subject.flatMap { subjects[$0]?.mode } ?? globalMode
    }

    /// Subjects with at least one live version (or any version, with `deleted`), sorted.
    public func subjectNames(includingDeleted deleted: Bool = false) -> [String] {
        subjects.filter { deleted ? !$0.value.versions.isEmpty : !$0.value.liveVersions.isEmpty }.keys.sorted()
    }

    /// Every (subject, version) that uses schema `id`, sorted.
    public func usages(of id: Int32, includingDeleted deleted: Bool = false) -> [(subject: String, version: Int32)] {
        subjects.keys.sorted().flatMap { name in
            subjects[name]!.versions.filter { $0.id == id && (deleted || !$0.deleted) }.map { (name, $0.version) }
        }
    }

    /// Ids of schemas whose references point at `subject` version `version`.
    public func referencingIDs(subject: String, version: Int32) -> [Int32] {
        schemas.values.filter { schema in schema.references.contains { $0.subject == subject && $0.version == version } }
            .map(\.id).sorted()
    }
}
