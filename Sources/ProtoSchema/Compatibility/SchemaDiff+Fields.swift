extension SchemaDiff {
    /// What a field's type is for the rules: Confluent's `Kind` (scalar, message, map) with the scalar's group.
    private enum FieldShape {
        case scalar(ScalarGroup)
        case message(String)
        case map(key: FieldTypeReference, value: FieldTypeReference)
    }

    /// The same field number in both versions (Confluent's `FieldSchemaDiff.compare`): its name, then its type.
    mutating func compareFields(_ original: FieldModel, _ update: FieldModel, in message: String) {
        let path = "\(message).\(update.name)"
        if original.name != update.name {
            record(.fieldNameChanged, path: path, number: update.number, old: original.name, new: update.name)
        }
        compareFieldTypes(original.label, update.label, original.type, update.type,
                          original: original, update: update, path: path)
    }

    /// Kinds must match; scalars must stay in their group (and numeric labels unchanged); messages must keep their
    /// local name and, when imported, stay compatible; maps compare keys and values (Confluent's `compareLabelsAndTypes`).
    private mutating func compareFieldTypes(_ originalLabel: FieldLabel?, _ updateLabel: FieldLabel?,
                                            _ originalType: FieldTypeReference, _ updateType: FieldTypeReference,
                                            original: FieldModel, update: FieldModel, path: String) {
        switch (shape(of: originalType, in: self.original), shape(of: updateType, in: self.update)) {
        case (.scalar(let before), .scalar(let after)):
            if before != after {
                record(.fieldScalarKindChanged, path: path, number: update.number,
                       old: original.typeDisplay, new: update.typeDisplay)
            } else if let originalLabel, let updateLabel, originalLabel != updateLabel {
                record(before.isStringOrBytes ? .fieldStringOrBytesLabelChanged : .fieldNumericLabelChanged,
                       path: path, number: update.number, old: original.labelledType, new: update.labelledType)
            }
        case (.message(let before), .message(let after)):
            compareMessageTypes(before, after, original: original, update: update, path: path)
        case (.map(let beforeKey, let beforeValue), .map(let afterKey, let afterValue)):
            compareFieldTypes(nil, nil, beforeKey, afterKey, original: original, update: update, path: path)
            compareFieldTypes(nil, nil, beforeValue, afterValue, original: original, update: update, path: path)
        default:
            record(.fieldKindChanged, path: path, number: update.number,
                   old: original.typeDisplay, new: update.typeDisplay)
        }
    }

    /// Message types match by name without package; a type outside the main file in either version is compared
    /// member by member, and an incompatible result marks the field (Confluent's `compareMessageTypes`).
    private mutating func compareMessageTypes(_ before: String, _ after: String,
                                              original: FieldModel, update: FieldModel, path: String) {
        guard let originalEntry = self.original.types[before], case .message(let originalMessage) = originalEntry.kind,
              let updateEntry = self.update.types[after], case .message(let updateMessage) = updateEntry.kind
        else {
            if before != after {
                record(.fieldNamedTypeChanged, path: path, number: update.number,
                       old: original.typeDisplay, new: update.typeDisplay)
            }
            return
        }
        let originalLocal = localName(before, package: originalEntry.package)
        if originalLocal != localName(after, package: updateEntry.package) {
            record(.fieldNamedTypeChanged, path: path, number: update.number,
                   old: original.typeDisplay, new: update.typeDisplay)
        } else if !(originalEntry.isInMainFile && updateEntry.isInMainFile),
                  !compareImported(originalMessage, updateMessage, localName: originalLocal) {
            record(.fieldNamedTypeChanged, path: path, number: update.number,
                   old: original.typeDisplay, new: "\(update.typeDisplay) (changed incompatibly)")
        }
    }

    private func shape(of type: FieldTypeReference, in model: SchemaModel) -> FieldShape {
        switch type {
        case .scalar(let scalar):
            return .scalar(scalar.group)
        case .named(let name, let isEnum):
            switch model.types[name]?.kind {
            case .mapEntry(let key, let value): return .map(key: key.type, value: value.type)
            case .enumeration: return .scalar(.generalNumber)
            case .message: return .message(name)
            case nil: return isEnum ? .scalar(.generalNumber) : .message(name)
            }
        }
    }

    private func localName(_ fullName: String, package: String) -> String {
        package.isEmpty || !fullName.hasPrefix(package + ".") ? fullName : String(fullName.dropFirst(package.count + 1))
    }
}
