/// What to do instead of an incompatible change, one sentence per rule.
enum CompatibilityAdvice {
    /// Advice for a violation of `rule` at `path`; `old` is the earlier version's element, `new` the candidate's,
    /// and `version` the earlier version's 1-based position.
    static func sentence(rule: SchemaChangeRule, path: String, number: Int32?, old: String?, new: String?,
                         version: Int) -> String {
        let name = path.split(separator: ".").last.map(String.init) ?? path
        let owner = path.split(separator: ".").dropLast().joined(separator: ".")
        let field = number.map { "field \($0) (\(name))" } ?? "field \(name)"
        let candidateAdded = old == nil && new != nil
        switch rule {
        case .packageChanged:
            return "keep \(old ?? "the package"); register a schema with another package under a new subject"
        case .messageRemoved:
            return candidateAdded
                ? "declare message \(path) in an imported file rather than the main file: readers of version "
                    + "\(version) resolve message indexes only against the messages they know"
                : "keep message \(path) (mark it `option deprecated = true;`): records written with the older "
                    + "schema refer to it by message index"
        case .fieldKindChanged, .fieldScalarKindChanged, .fieldNamedTypeChanged:
            return "keep the type of \(field) and add a new field with a new number for the new type; "
                + "reserve the old number"
        case .fieldNumericLabelChanged:
            return "keep \(field) as `\(old ?? "before")`; add a new field with a new number for "
                + "`\(new ?? "the new form")` and reserve the old number when you delete the old field"
        case .requiredFieldAdded, .requiredFieldRemoved:
            return candidateAdded
                ? "declare \(field) `optional` instead of `required`: records written with version \(version) lack it"
                : "keep required \(field): readers of the older schema reject records without it"
        case .oneofFieldRemoved:
            return candidateAdded
                ? "readers of version \(version) do not know \(field) of the oneof; add it outside the oneof, or "
                    + "use a BACKWARD level if older readers never read new data"
                : "keep \(field) in its oneof (deprecate it rather than delete it): older records may have it set"
        case .multipleFieldsMovedToOneof:
            return "move at most one existing field into oneof \(name) of \(owner); "
                + "add new fields with new numbers to the oneof instead"
        case .fieldMovedToExistingOneof:
            return "do not merge existing fields that could be set together into oneof \(name) of \(owner); "
                + "add a new field with a new number to the oneof instead"
        case .fieldDeletedNotReserved:
            return "reserve the number of deleted \(field) in \(owner) with `reserved \(number.map(String.init) ?? name);` "
                + "and `reserved \"\(name)\";` so that no later version reuses it"
        case .enumValueDeletedNotReserved:
            return "reserve number \(number.map(String.init) ?? "?") of deleted value \(name) in enum \(owner) "
                + "with `reserved \(number.map(String.init) ?? "?");` so that no later version reuses it"
        case .messageAdded, .messageMoved, .enumAdded, .enumRemoved, .enumConstAdded, .enumConstChanged,
             .enumConstRemoved, .fieldAdded, .fieldRemoved, .fieldNameChanged, .fieldStringOrBytesLabelChanged,
             .oneofAdded, .oneofRemoved, .oneofFieldAdded:
            return "nothing: \(rule.rawValue) is a compatible change"
        }
    }
}
