import ClusterCore
import Foundation

/// One handler attempt's outcome, settled once (issue 14, guarantee 2): by the attempt's own
/// result, or by its abandonment — at its deadline plus a grace, or when a draining shard runs out
/// of time — whichever comes first. It is the attempt's fencing token: a result that arrives
/// after the abandonment finds the fence settled and is dropped, so a handler that ignores
/// cancellation can never write state or emit once its attempt was given up.
final class AttemptFence: @unchecked Sendable {
    /// How the attempt ended.
    enum Outcome: Sendable {
        /// The handler returned or threw.
        case finished(Result<ShardHandlerResult, any Error>)
        /// The runtime gave the attempt up; the handler may still be running.
        case abandoned(AgentError)
    }

    // `outcome` and `waiter` are guarded by `lock`.
    private let lock = NSLock()
    private var outcome: Outcome?
    private var waiter: CheckedContinuation<Outcome, Never>?

    /// Settles the attempt with `outcome` unless it is settled; true when this call settled it.
    @discardableResult
    func settle(_ outcome: Outcome) -> Bool {
        let (won, waiter) = lock.withLock { () -> (Bool, CheckedContinuation<Outcome, Never>?) in
            guard self.outcome == nil else { return (false, nil) }
            self.outcome = outcome
            defer { self.waiter = nil }
            return (true, self.waiter)
        }
        waiter?.resume(returning: outcome)
        return won
    }

    /// The outcome, once settled (one caller waits).
    var value: Outcome {
        get async {
            await withCheckedContinuation { continuation in
                let settled = lock.withLock { () -> Outcome? in
                    if let outcome { return outcome }
                    waiter = continuation
                    return nil
                }
                if let settled { continuation.resume(returning: settled) }
            }
        }
    }
}
