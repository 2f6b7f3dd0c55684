import Foundation

/// The saga helper for joins (DESIGN §4): keep one in an agent's state to wait for a set of
/// parts that share a correlation id (the agent's key), e.g. the three checks of one commit.
public struct Join: Codable, Sendable, Hashable {
    /// The parts to wait for.
    public var expected: Set<String>
    /// What arrived so far, by part (a part arriving twice keeps its first payload).
    public private(set) var received: [String: Data] = [:]
    /// Set once every part arrived (later parts are ignored).
    public private(set) var isComplete = false

    /// A join waiting for `expected`.
    public init(expecting expected: Set<String>) { self.expected = expected }

    /// Records `part`; true exactly once: when this part completes the join.
    public mutating func record(_ part: String, _ payload: Data = Data()) -> Bool {
        guard !isComplete, expected.contains(part), received[part] == nil else { return false }
        received[part] = payload
        isComplete = received.count == expected.count
        return isComplete
    }

    /// The parts still missing.
    public var missing: Set<String> { expected.subtracting(received.keys) }
}
