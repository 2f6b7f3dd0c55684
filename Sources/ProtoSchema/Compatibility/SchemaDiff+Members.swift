extension SchemaDiff {
    /// Fields and oneofs of two messages matched by name (the body of Confluent's `MessageSchemaDiff.compare`):
    /// oneof membership first, then oneofs by name, fields outside oneofs by number, and last the fields whose
    /// oneof membership changed, compared by number wherever they now sit.
    mutating func compareMembers(_ original: MessageModel, _ update: MessageModel) {
        var originalOutside = Dictionary(original.fields.map { ($0.number, $0) }) { _, last in last }
        let updateOutside = Dictionary(update.fields.map { ($0.number, $0) }) { _, last in last }
        var originalAll = originalOutside
        var updateAll = updateOutside
        var originalOneofOf: [Int32: String] = [:]
        var updateOneofOf: [Int32: String] = [:]
        for oneof in original.oneofs {
            for field in oneof.fields {
                originalAll[field.number] = field
                originalOneofOf[field.number] = oneof.name
            }
        }
        for oneof in update.oneofs {
            // Groups of fields that old data could set together; a oneof joining two of them loses data.
            var groups = Set<String>()
            var movedFromOutside = 0
            var previousPlaces: [String] = []
            for field in oneof.fields {
                updateAll[field.number] = field
                updateOneofOf[field.number] = oneof.name
                originalOutside[field.number] = nil
                if let previous = originalOneofOf[field.number] {
                    groups.insert("oneof \(previous)")
                    previousPlaces.append("\(field.name) = \(field.number) in oneof \(previous)")
                } else if originalAll[field.number] != nil {
                    groups.insert("field \(field.number)")
                    movedFromOutside += 1
                    previousPlaces.append("\(field.name) = \(field.number) outside any oneof")
                }
            }
            if groups.count > 1 {
                let members = oneof.fields.map { "\($0.name) = \($0.number)" }.joined(separator: ", ")
                record(movedFromOutside > 1 ? .multipleFieldsMovedToOneof : .fieldMovedToExistingOneof,
                       path: "\(update.fullName).\(oneof.name)", component: oneof.name,
                       old: previousPlaces.joined(separator: "; "), new: "oneof \(oneof.name) { \(members) }")
            }
        }

        let originalOneofs = Dictionary(original.oneofs.map { ($0.name, $0) }) { _, last in last }
        let updateOneofs = Dictionary(update.oneofs.map { ($0.name, $0) }) { _, last in last }
        let updateNumbers = Set(updateAll.keys)
        for name in Set(originalOneofs.keys).union(updateOneofs.keys).sorted() {
            let path = "\(update.fullName).\(name)"
            within(name) { diff in
                switch (originalOneofs[name], updateOneofs[name]) {
                case (_?, nil): diff.record(.oneofRemoved, path: path, old: "oneof \(name)", new: nil)
                case (nil, _?): diff.record(.oneofAdded, path: path, old: nil, new: "oneof \(name)")
                case (let before?, let after?):
                    diff.compareOneofs(before, after, updateNumbers: updateNumbers, in: update.fullName)
                case (nil, nil): break
                }
            }
        }

        for number in Set(originalOutside.keys).union(updateOutside.keys).sorted() {
            within(String(number)) { diff in
                switch (originalOutside[number], updateOutside[number]) {
                case (let before?, nil):
                    diff.record(before.label == .required ? .requiredFieldRemoved : .fieldRemoved,
                                path: "\(update.fullName).\(before.name)", number: number,
                                old: before.declaration, new: nil)
                case (nil, let after?):
                    diff.record(after.label == .required ? .requiredFieldAdded : .fieldAdded,
                                path: "\(update.fullName).\(after.name)", number: number,
                                old: nil, new: after.declaration)
                case (let before?, let after?):
                    diff.compareFields(before, after, in: update.fullName)
                case (nil, nil): break
                }
            }
        }

        for number in Set(originalAll.keys).intersection(updateAll.keys).sorted() {
            let before = originalOneofOf[number]
            let after = updateOneofOf[number]
            guard before != after, let originalField = originalAll[number], let updateField = updateAll[number]
            else { continue }
            within(String(number)) { diff in diff.compareFields(originalField, updateField, in: update.fullName) }
        }
    }

    /// Members of a oneof present in both versions, by number (Confluent's `OneOfDiff`). A member that left the
    /// oneof but stays in the message moved rather than disappeared, and is compared elsewhere.
    private mutating func compareOneofs(_ original: OneofModel, _ update: OneofModel, updateNumbers: Set<Int32>,
                                        in message: String) {
        let originalByNumber = Dictionary(original.fields.map { ($0.number, $0) }) { _, last in last }
        let updateByNumber = Dictionary(update.fields.map { ($0.number, $0) }) { _, last in last }
        for number in Set(originalByNumber.keys).union(updateByNumber.keys).sorted() {
            within(String(number)) { diff in
                switch (originalByNumber[number], updateByNumber[number]) {
                case (let before?, nil):
                    if !updateNumbers.contains(number) {
                        diff.record(.oneofFieldRemoved, path: "\(message).\(before.name)", number: number,
                                    old: "\(before.declaration) in oneof \(original.name)", new: nil)
                    }
                case (nil, let after?):
                    diff.record(.oneofFieldAdded, path: "\(message).\(after.name)", number: number,
                                old: nil, new: "\(after.declaration) in oneof \(update.name)")
                case (let before?, let after?):
                    diff.compareFields(before, after, in: message)
                case (nil, nil): break
                }
            }
        }
    }
}
