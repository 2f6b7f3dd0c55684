/// Which way a candidate schema was compared with an earlier version.
public enum ComparisonKind: String, Sendable, Hashable, Codable {
    /// The candidate must read data written with the earlier version: differences from old to new.
    case backward
    /// The earlier version must read data written with the candidate: differences from new to old.
    case forward
    /// The strict wire rules, from old to new.
    case strict
}

/// The differences found when a candidate was compared one way with one earlier version.
public struct SchemaComparison: Sendable, Hashable {
    /// The position of the earlier version in the history (0 is the oldest).
    public var historyIndex: Int
    /// Which way the comparison went.
    public var kind: ComparisonKind
    /// Every difference found, compatible or not, in the diff's own direction (see ``SchemaDifference``).
    public var differences: [SchemaDifference]

    /// A comparison with the version at `historyIndex`.
    public init(historyIndex: Int, kind: ComparisonKind, differences: [SchemaDifference]) {
        self.historyIndex = historyIndex
        self.kind = kind
        self.differences = differences
    }
}
