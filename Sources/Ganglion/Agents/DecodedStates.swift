import Foundation

/// The decoded states handlers left, by key, with the bytes they were stored as: the next event of
/// a key reuses the value instead of decoding the same bytes again (JSON decoding was a tenth of
/// the runtime's time per event). A value is reused only while the shard hands over exactly the
/// bytes it came with, so a state replayed, reloaded or changed elsewhere is decoded afresh.
/// Class states are never kept (a failed attempt could have changed one in place).
final class DecodedStates<State: Sendable>: @unchecked Sendable {
    // `entries` is guarded by `lock`.
    private let lock = NSLock()
    private var entries: [String: (bytes: [UInt8], state: State)] = [:]
    private let limit: Int

    /// A cache of at most `limit` keys.
    init(limit: Int = 16_384) { self.limit = limit }

    /// The state of `key` decoded from `bytes`, if it was kept.
    func state(of key: String, storedAs bytes: [UInt8]) -> State? {
        lock.withLock {
            guard let entry = entries[key], entry.bytes == bytes else { return nil }
            return entry.state
        }
    }

    /// Keeps `state` of `key`, stored as `bytes`; nil forgets the key.
    func keep(_ state: State?, of key: String, storedAs bytes: [UInt8]?) {
        guard !(State.self is AnyClass) else { return }
        lock.withLock {
            guard let state, let bytes else {
                entries[key] = nil
                return
            }
            if entries[key] == nil && entries.count >= limit { entries.remove(at: entries.startIndex) }
            entries[key] = (bytes, state)
        }
    }
}
