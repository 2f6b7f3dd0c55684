extension SchemaDiff {
    /// The main files: package, then their message and enum types (Confluent's `SchemaDiff.compare`).
    mutating func compareMainFiles() {
        let originalFile = original.mainFile
        let updateFile = update.mainFile
        if originalFile.package != updateFile.package {
            record(.packageChanged, path: updateFile.name,
                   old: packageDisplay(originalFile.package), new: packageDisplay(updateFile.package))
        }
        compareTypes(originalMessages: originalFile.messages, originalEnums: originalFile.enums,
                     updateMessages: updateFile.messages, updateEnums: updateFile.enums)
    }

    /// Sibling message and enum types matched by name (Confluent's `compareTypeElements`).
    mutating func compareTypes(originalMessages: [MessageModel], originalEnums: [EnumModel],
                               updateMessages: [MessageModel], updateEnums: [EnumModel]) {
        let originalIndexes = Dictionary(originalMessages.enumerated().map { ($1.name, $0) }) { _, last in last }
        let updateIndexes = Dictionary(updateMessages.enumerated().map { ($1.name, $0) }) { _, last in last }
        for name in Set(originalIndexes.keys).union(updateIndexes.keys).sorted() {
            within(name) { diff in
                switch (originalIndexes[name], updateIndexes[name]) {
                case (let before?, nil):
                    let message = originalMessages[before]
                    diff.record(.messageRemoved, path: message.fullName, old: "message \(message.fullName)", new: nil)
                case (nil, let after?):
                    let message = updateMessages[after]
                    diff.record(.messageAdded, path: message.fullName, old: nil, new: "message \(message.fullName)")
                case (let before?, let after?):
                    diff.compareMessages(originalMessages[before], updateMessages[after])
                    if before != after {
                        diff.record(.messageMoved, path: updateMessages[after].fullName,
                                    old: "message index \(before)", new: "message index \(after)")
                    }
                case (nil, nil):
                    break
                }
            }
        }
        let originalByName = Dictionary(originalEnums.map { ($0.name, $0) }) { _, last in last }
        let updateByName = Dictionary(updateEnums.map { ($0.name, $0) }) { _, last in last }
        for name in Set(originalByName.keys).union(updateByName.keys).sorted() {
            within(name) { diff in
                switch (originalByName[name], updateByName[name]) {
                case (let before?, nil):
                    diff.record(.enumRemoved, path: before.fullName, old: "enum \(before.fullName)", new: nil)
                case (nil, let after?):
                    diff.record(.enumAdded, path: after.fullName, old: nil, new: "enum \(after.fullName)")
                case (let before?, let after?):
                    diff.compareEnums(before, after)
                case (nil, nil):
                    break
                }
            }
        }
    }

    /// Enum values matched by number (Confluent's `EnumSchemaDiff`).
    mutating func compareEnums(_ original: EnumModel, _ update: EnumModel) {
        let originalByNumber = Dictionary(original.values.map { ($0.number, $0) }) { _, last in last }
        let updateByNumber = Dictionary(update.values.map { ($0.number, $0) }) { _, last in last }
        for number in Set(originalByNumber.keys).union(updateByNumber.keys).sorted() {
            let before = originalByNumber[number]
            let after = updateByNumber[number]
            let path = "\(update.fullName).\((after ?? before)?.name ?? String(number))"
            switch (before, after) {
            case (let before?, nil):
                record(.enumConstRemoved, path: path, component: String(number), number: number,
                       old: before.declaration, new: nil)
            case (nil, let after?):
                record(.enumConstAdded, path: path, component: String(number), number: number,
                       old: nil, new: after.declaration)
            case (let before?, let after?) where before.name != after.name:
                record(.enumConstChanged, path: path, component: String(number), number: number,
                       old: before.declaration, new: after.declaration)
            default:
                break
            }
        }
    }

    private func packageDisplay(_ package: String) -> String {
        package.isEmpty ? "(no package)" : "package \(package)"
    }
}
