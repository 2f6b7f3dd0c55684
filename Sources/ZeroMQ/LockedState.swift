import Foundation

/// A value behind a pthread mutex (NSLock). Used instead of `Synchronization.Mutex` where
/// threads other than Swift tasks contend, because ThreadSanitizer understands pthread mutexes
/// but not the futex-based `Mutex`, and a clean TSan run is worth more than a few nanoseconds.
final class LockedState<Value>: @unchecked Sendable {
    // `value` is only touched between lock() and unlock().
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
