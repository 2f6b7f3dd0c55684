import Foundation

/// The saga helper for joins (DESIGN §4): keep one in an agent's state to wait for a set of
/// parts that share a correlation id (the agent's key), e.g. the three checks of one commit, with
/// a timeout that ends the wait when a part never comes.
public struct Join: Codable, Sendable, Hashable {
    /// The name of the timer ``record(_:_:in:timeout:)`` schedules.
    public static let timerName = "ganglion.join.timeout"

    /// The parts to wait for.
    public var expected: Set<String>
    /// What arrived so far, by part (a part arriving twice keeps its first payload).
    public private(set) var received: [String: Data] = [:]
    /// Set once every part arrived (later parts are ignored).
    public private(set) var isComplete = false
    /// Set when the wait ended before every part arrived (later parts are ignored).
    public private(set) var isTimedOut = false

    /// A join waiting for `expected`.
    public init(expecting expected: Set<String>) { self.expected = expected }

    /// Records `part`; true exactly once: when this part completes the join.
    public mutating func record(_ part: String, _ payload: Data = Data()) -> Bool {
        guard !isComplete, !isTimedOut, expected.contains(part), received[part] == nil else { return false }
        received[part] = payload
        isComplete = received.count == expected.count
        return isComplete
    }

    /// Records `part` in a handler and keeps the join's timeout: the first part schedules the timer
    /// ``timerName`` for `timeout`, the completing part cancels it. When the timer fires
    /// (`context.timer == Join.timerName`), call ``expire()``.
    public mutating func record<State>(_ part: String, _ payload: Data = Data(), in context: AgentContext<State>, timeout: Duration) -> Bool {
        let first = received.isEmpty && !isComplete && !isTimedOut
        let completed = record(part, payload)
        if first && received[part] != nil && !completed { context.schedule(Self.timerName, after: timeout) }
        if completed && !first { context.cancelTimer(Self.timerName) }
        return completed
    }

    /// Ends the wait: returns the missing parts, exactly once, if the join was still waiting;
    /// nil when it completed or already timed out.
    public mutating func expire() -> Set<String>? {
        guard !isComplete, !isTimedOut else { return nil }
        isTimedOut = true
        return missing
    }

    /// The parts still missing.
    public var missing: Set<String> { expected.subtracting(received.keys) }

    private enum CodingKeys: String, CodingKey { case expected, received, isComplete, isTimedOut }

    /// Decodes a join (states stored before timeouts existed read as not timed out).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        expected = try container.decode(Set<String>.self, forKey: .expected)
        received = try container.decode([String: Data].self, forKey: .received)
        isComplete = try container.decode(Bool.self, forKey: .isComplete)
        isTimedOut = try container.decodeIfPresent(Bool.self, forKey: .isTimedOut) ?? false
    }
}
