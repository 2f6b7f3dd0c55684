/// Decides whether a new protobuf schema version may follow earlier ones, by Confluent Schema Registry's rules
/// (and, when asked, strict wire rules on reserved numbers). Pure: no I/O, no clock, deterministic order.
public struct CompatibilityChecker: Sendable {
    /// A checker.
    public init() {}

    /// Checks `candidate` against `history` (oldest first) at `level`.
    ///
    /// BACKWARD levels compare from each checked version to the candidate (the candidate reads old data), FORWARD
    /// levels from the candidate to each checked version (old readers read new data), FULL both. Plain levels check
    /// only the latest version, `_TRANSITIVE` levels every version; NONE and an empty history always pass.
    /// `strict` adds ``SchemaChangeRule/fieldDeletedNotReserved`` and
    /// ``SchemaChangeRule/enumValueDeletedNotReserved`` from each checked version to the candidate.
    public func check(_ candidate: ProtoSchemaVersion, against history: [ProtoSchemaVersion],
                      level: CompatibilityLevel, strict: Bool = false) -> CompatibilityReport {
        let checked = level.checkedVersions(historyCount: history.count)
        guard !checked.isEmpty else { return CompatibilityReport(level: level, strict: strict, comparisons: []) }
        let new = candidate.model
        var comparisons: [SchemaComparison] = []
        for index in checked {
            let old = history[index].model
            if level.checksBackward {
                comparisons.append(SchemaComparison(historyIndex: index, kind: .backward,
                                                    differences: SchemaDiff.differences(from: old, to: new)))
            }
            if level.checksForward {
                comparisons.append(SchemaComparison(historyIndex: index, kind: .forward,
                                                    differences: SchemaDiff.differences(from: new, to: old)))
            }
            if strict {
                comparisons.append(SchemaComparison(historyIndex: index, kind: .strict,
                                                    differences: StrictWireRules.differences(from: old, to: new)))
            }
        }
        return CompatibilityReport(level: level, strict: strict, comparisons: comparisons)
    }

    /// Every difference from `original` to `update` (Confluent's `SchemaDiff.compare(original, update)`):
    /// `update` can read data written with `original` when all of them are compatible.
    public func differences(from original: ProtoSchemaVersion, to update: ProtoSchemaVersion) -> [SchemaDifference] {
        SchemaDiff.differences(from: original.model, to: update.model)
    }
}
