/// The outcome of checking a candidate schema against a history at one compatibility level.
public struct CompatibilityReport: Sendable, Hashable {
    /// The level checked.
    public var level: CompatibilityLevel
    /// Whether the strict wire rules were checked too.
    public var strict: Bool
    /// Every comparison made, in order: earlier versions oldest first; backward, forward, then strict for each.
    public var comparisons: [SchemaComparison]
    /// The incompatible differences, in the order of the comparisons that found them.
    public var violations: [CompatibilityViolation]

    /// A report over `comparisons`; the violations are their incompatible differences.
    public init(level: CompatibilityLevel, strict: Bool, comparisons: [SchemaComparison]) {
        self.level = level
        self.strict = strict
        self.comparisons = comparisons
        violations = comparisons.flatMap { comparison in
            comparison.differences.filter { !$0.isCompatible }.map { CompatibilityViolation($0, foundBy: comparison) }
        }
    }

    /// Whether the candidate may be registered: no comparison found an incompatible difference.
    public var isCompatible: Bool { violations.isEmpty }

    /// Every difference of every comparison, compatible or not.
    public var differences: [SchemaDifference] { comparisons.flatMap(\.differences) }
}
