import Foundation

/// Storage faults a test injects into a log, to prove the log's answer to each (an fsync that
/// fails, as on a full or failing disk). Production logs have none.
public final class LogFaults: @unchecked Sendable, Hashable {
    // `failingSyncs` is guarded by `lock`.
    private let lock = NSLock()
    private var failingSyncs = 0

    /// No faults until one is asked for.
    public init() {}

    /// Makes the next `count` fsyncs of the log's segments fail with EIO.
    public func failNextSyncs(_ count: Int) { lock.withLock { failingSyncs += count } }

    /// Whether this fsync is to fail (counting it off).
    func takeSyncFailure() -> Bool {
        lock.withLock {
            guard failingSyncs > 0 else { return false }
            failingSyncs -= 1
            return true
        }
    }

    /// Identity: two configurations are equal only with the same injector.
    public static func == (lhs: LogFaults, rhs: LogFaults) -> Bool { lhs === rhs }
    /// Hashes the identity.
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
