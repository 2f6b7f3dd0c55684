/// Rules on top of Confluent's, in the manner of `buf breaking`'s WIRE category: a deleted field or enum value
/// must have its number reserved in the new version, so that no later version reuses it with another meaning.
enum StrictWireRules {
    /// Deletions from `old` to `new` whose numbers the new version does not reserve, for message and enum types
    /// of the main file matched by name.
    static func differences(from old: SchemaModel, to new: SchemaModel) -> [SchemaDifference] {
        var found: [SchemaDifference] = []
        walk(oldMessages: old.mainFile.messages, oldEnums: old.mainFile.enums,
             newMessages: new.mainFile.messages, newEnums: new.mainFile.enums, location: [], into: &found)
        return found
    }

    private static func walk(oldMessages: [MessageModel], oldEnums: [EnumModel],
                             newMessages: [MessageModel], newEnums: [EnumModel],
                             location: [String], into found: inout [SchemaDifference]) {
        let newMessagesByName = Dictionary(newMessages.map { ($0.name, $0) }) { _, last in last }
        for oldMessage in oldMessages.sorted(by: { $0.name < $1.name }) {
            guard let newMessage = newMessagesByName[oldMessage.name] else { continue }
            let here = location + [oldMessage.name]
            let kept = Set(newMessage.allFields.map(\.number))
            let deleted = oldMessage.allFields.filter { field in
                !kept.contains(field.number) && !newMessage.reservedNumbers.contains { $0.contains(field.number) }
            }
            for field in deleted.sorted(by: { $0.number < $1.number }) {
                found.append(SchemaDifference(
                    rule: .fieldDeletedNotReserved, path: "\(newMessage.fullName).\(field.name)",
                    location: pointer(here + [String(field.number)]), number: field.number,
                    old: field.declaration, new: nil))
            }
            walk(oldMessages: oldMessage.messages, oldEnums: oldMessage.enums,
                 newMessages: newMessage.messages, newEnums: newMessage.enums, location: here, into: &found)
        }
        let newEnumsByName = Dictionary(newEnums.map { ($0.name, $0) }) { _, last in last }
        for oldEnum in oldEnums.sorted(by: { $0.name < $1.name }) {
            guard let newEnum = newEnumsByName[oldEnum.name] else { continue }
            let kept = Set(newEnum.values.map(\.number))
            var reported = Set<Int32>()
            for value in oldEnum.values.sorted(by: { $0.number < $1.number })
            where !kept.contains(value.number) && !newEnum.reservedNumbers.contains(where: { $0.contains(value.number) })
                && reported.insert(value.number).inserted {
                found.append(SchemaDifference(
                    rule: .enumValueDeletedNotReserved, path: "\(newEnum.fullName).\(value.name)",
                    location: pointer(location + [oldEnum.name, String(value.number)]), number: value.number,
                    old: value.declaration, new: nil))
            }
        }
    }

    private static func pointer(_ components: [String]) -> String {
        "#/" + components.joined(separator: "/")
    }
}
