/// The saga helper for step sequences (DESIGN §4): keep one in an agent's state to run steps in
/// order and, when a step fails, get the compensations of the steps already done, newest first.
public struct Saga: Codable, Sendable, Hashable {
    /// The steps, in order.
    public let steps: [String]
    /// Steps done so far, in order.
    public private(set) var completed: [String] = []
    /// The step that failed, if one did (the saga is over).
    public private(set) var failedStep: String?

    /// A saga of `steps`.
    public init(steps: [String]) { self.steps = steps }

    /// The step to run now; nil when the saga finished or failed.
    public var current: String? {
        failedStep == nil && completed.count < steps.count ? steps[completed.count] : nil
    }

    /// Whether every step completed.
    public var isFinished: Bool { completed.count == steps.count }

    /// `step` completed; returns the next step (nil when done). A report for another step than
    /// the current one (a duplicate, a late one) changes nothing and returns nil.
    public mutating func complete(_ step: String) -> String? {
        guard step == current else { return nil }
        completed.append(step)
        return current
    }

    /// `step` failed: the saga is over; returns the steps to compensate, newest first (none for a
    /// report that is not about the current step).
    public mutating func fail(_ step: String) -> [String] {
        guard step == current else { return [] }
        failedStep = step
        return completed.reversed()
    }
}
