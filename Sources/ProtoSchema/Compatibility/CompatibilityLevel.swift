/// How a new schema version must relate to the earlier ones (Confluent Schema Registry's compatibility levels).
public enum CompatibilityLevel: String, CaseIterable, Sendable, Hashable, Codable {
    /// The new schema reads data written with the latest version.
    case backward = "BACKWARD"
    /// The new schema reads data written with every earlier version.
    case backwardTransitive = "BACKWARD_TRANSITIVE"
    /// The latest version reads data written with the new schema.
    case forward = "FORWARD"
    /// Every earlier version reads data written with the new schema.
    case forwardTransitive = "FORWARD_TRANSITIVE"
    /// Backward and forward against the latest version.
    case full = "FULL"
    /// Backward and forward against every earlier version.
    case fullTransitive = "FULL_TRANSITIVE"
    /// No check: every new version is accepted.
    case none = "NONE"

    /// Whether the new schema must read old data: the differences from old to new are checked.
    public var checksBackward: Bool {
        switch self {
        case .backward, .backwardTransitive, .full, .fullTransitive: true
        case .forward, .forwardTransitive, .none: false
        }
    }

    /// Whether old schemas must read new data: the differences from new to old are checked.
    public var checksForward: Bool {
        switch self {
        case .forward, .forwardTransitive, .full, .fullTransitive: true
        case .backward, .backwardTransitive, .none: false
        }
    }

    /// Whether every earlier version is checked rather than only the latest.
    public var isTransitive: Bool {
        switch self {
        case .backwardTransitive, .forwardTransitive, .fullTransitive: true
        case .backward, .forward, .full, .none: false
        }
    }

    /// The positions in a history (oldest first) that a new version is checked against, oldest first.
    public func checkedVersions(historyCount: Int) -> Range<Int> {
        guard historyCount > 0, checksBackward || checksForward else { return 0..<0 }
        return isTransitive ? 0..<historyCount : (historyCount - 1)..<historyCount
    }
}
