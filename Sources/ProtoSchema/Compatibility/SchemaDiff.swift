/// Confluent Schema Registry's protobuf diff (`SchemaDiff`, `Context`), over descriptor-based models.
///
/// A diff walks the original and the update side by side and records every difference once, in a
/// deterministic order: package, then message types by name, then enum types by name; within a message,
/// oneof membership, oneofs by name, fields by number, then nested types.
struct SchemaDiff {
    /// The schema data was written with (in Confluent's terms: the writer).
    let original: SchemaModel
    /// The schema that reads it (the reader).
    let update: SchemaModel
    /// Differences found so far, in order.
    private(set) var differences: [SchemaDifference] = []
    /// Confluent's path of the element being compared, without the leading `#/`.
    private var location: [String] = []
    /// Messages of the original being compared, so recursive imported types end (Confluent's `SchemaScope`).
    private var messagesInProgress: Set<String> = []
    /// Imported message pairs already compared, with their verdict, so each is walked once.
    private var importedVerdicts: [ImportedPair: Bool] = [:]
    /// What has been recorded (Confluent's `Difference` equality, type and path, plus the element's full name).
    private var recorded: Set<RecordedKey> = []

    private struct ImportedPair: Hashable {
        var original: String
        var update: String
    }

    private struct RecordedKey: Hashable {
        var rule: SchemaChangeRule
        var location: String
        var path: String
    }

    /// The differences from `original` to `update`.
    static func differences(from original: SchemaModel, to update: SchemaModel) -> [SchemaDifference] {
        var diff = SchemaDiff(original: original, update: update)
        diff.compareMainFiles()
        return diff.differences
    }

    private init(original: SchemaModel, update: SchemaModel) {
        self.original = original
        self.update = update
    }

    /// Records a difference at the current location (extended by `component` when given).
    mutating func record(_ rule: SchemaChangeRule, path: String, component: String? = nil, number: Int32? = nil,
                         old: String?, new: String?) {
        let here = "#/" + (location + (component.map { [$0] } ?? [])).joined(separator: "/")
        guard recorded.insert(RecordedKey(rule: rule, location: here, path: path)).inserted else { return }
        differences.append(SchemaDifference(rule: rule, path: path, location: here, number: number, old: old, new: new))
    }

    /// Runs `body` one location component deeper.
    mutating func within(_ component: String, _ body: (inout SchemaDiff) -> Void) {
        location.append(component)
        body(&self)
        location.removeLast()
    }

    /// Compares two messages matched by name: their members, unless the original is already being compared
    /// further up (a recursive imported type), then their nested types (Confluent's `MessageSchemaDiff.compare`).
    mutating func compareMessages(_ original: MessageModel, _ update: MessageModel) {
        // Identical declarations whose named types are identical too cannot differ: skip the walk.
        var checked: Set<String> = []
        if original == update && referencedTypesUnchanged(original, checked: &checked) { return }
        let entered = messagesInProgress.insert(original.fullName).inserted
        if entered { compareMembers(original, update) }
        compareTypes(originalMessages: original.messages, originalEnums: original.enums,
                     updateMessages: update.messages, updateEnums: update.enums)
        if entered { messagesInProgress.remove(original.fullName) }
    }

    /// Whether every type `message` (and its nested types) refers to is the same in both versions:
    /// declared in both main files, or declared identically (recursively for imported messages).
    private func referencedTypesUnchanged(_ message: MessageModel, checked: inout Set<String>) -> Bool {
        for field in message.allFields {
            guard case .named(let name, _) = field.type, checked.insert(name).inserted else { continue }
            guard let before = original.types[name], let after = update.types[name] else { return false }
            if before.isInMainFile && after.isInMainFile { continue }
            guard before == after else { return false }
            if case .message(let imported) = before.kind, !referencedTypesUnchanged(imported, checked: &checked) { return false }
        }
        return message.messages.allSatisfy { referencedTypesUnchanged($0, checked: &checked) }
    }

    /// Compares two imported (or moved-to-import) messages in a context of their own, at their local name;
    /// returns whether that comparison found only compatible differences (Confluent's sub-context).
    mutating func compareImported(_ original: MessageModel, _ update: MessageModel, localName: String) -> Bool {
        let pair = ImportedPair(original: original.fullName, update: update.fullName)
        if let verdict = importedVerdicts[pair] { return verdict }
        let outerLocation = location
        let start = differences.count
        location = localName.split(separator: ".").map(String.init)
        compareMessages(original, update)
        location = outerLocation
        let verdict = differences[start...].allSatisfy(\.isCompatible)
        importedVerdicts[pair] = verdict
        return verdict
    }
}
