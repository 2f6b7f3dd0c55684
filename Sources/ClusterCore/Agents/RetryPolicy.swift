/// What happens to an event whose handler failed: when to try again, and when to give up to the
/// dead-letter topic (DESIGN §4). Exponential backoff with full jitter, bounded; pure — the
/// randomness comes in.
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// Attempts in all (the first included) before the event goes to the dead letters.
    public var maxAttempts: Int
    /// The backoff before the second attempt (ms); it doubles per attempt.
    public var initialBackoffMilliseconds: Int64
    /// The largest backoff (ms).
    public var maxBackoffMilliseconds: Int64
    /// How long one attempt may run before it is cancelled (ms).
    public var attemptDeadlineMilliseconds: Int64

    /// A policy; the defaults: 5 attempts, 100 ms doubling to at most 10 s, 30 s per attempt.
    public init(maxAttempts: Int = 5, initialBackoffMilliseconds: Int64 = 100, maxBackoffMilliseconds: Int64 = 10_000,
                attemptDeadlineMilliseconds: Int64 = 30_000) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoffMilliseconds = max(0, initialBackoffMilliseconds)
        self.maxBackoffMilliseconds = max(self.initialBackoffMilliseconds, maxBackoffMilliseconds)
        self.attemptDeadlineMilliseconds = max(1, attemptDeadlineMilliseconds)
    }

    /// What to do after attempt number `attempt` (1 for the first) failed.
    public enum Decision: Sendable, Hashable {
        /// Try again after this many milliseconds.
        case retry(afterMilliseconds: Int64)
        /// Give up: the event goes to the dead-letter topic with its error and attempts.
        case deadLetter
    }

    /// The decision after `attempt` failed: full jitter over `min(max, initial · 2^(attempt-1))`.
    public func decision(afterAttempt attempt: Int, using random: inout some RandomNumberGenerator) -> Decision {
        guard attempt < maxAttempts else { return .deadLetter }
        let doublings = min(attempt - 1, 40)
        let ceiling = min(maxBackoffMilliseconds, initialBackoffMilliseconds << doublings)
        return .retry(afterMilliseconds: ceiling == 0 ? 0 : Int64.random(in: 0...ceiling, using: &random))
    }
}

/// Ids of the events a handler emits, derived from the input event's id, the agent type and the
/// emit index, so a retried or replayed handler emits the same ids (duplicates are recognised
/// downstream) and agent types handling the same input emit different ones.
public enum EmittedEventID {
    /// The id of the `index`th event (from 0) that agent type `agent` emitted while handling `inputID`.
    public static func derive(inputID: String, agent: String, index: Int) -> String {
        // `inputID/agent/emit-index`, sized first (one allocation; derived for every emit).
        let number = String(index)
        var id = ""
        id.reserveCapacity(inputID.utf8.count + agent.utf8.count + 7 + number.utf8.count)
        id += inputID
        id += "/"
        id += agent
        id += "/emit-"
        id += number
        return id
    }
}
