import Foundation

/// The decoded states handlers left, by key, with the bytes they were stored as: the next event of
/// a key reuses the value instead of decoding the same bytes again (JSON decoding was a tenth of
/// the runtime's time per event). A value is reused only while the shard hands over exactly the
/// bytes it came with, so a state replayed, reloaded or changed elsewhere is decoded afresh.
/// Class states are never kept (a failed attempt could have changed one in place). The keys are
/// spread over stripes with a lock each, so the shards of a host rarely wait for one another.
final class DecodedStates<State: Sendable>: @unchecked Sendable {
    private final class Stripe: @unchecked Sendable {
        // `entries` is guarded by `lock`.
        let lock = NSLock()
        var entries: [String: (bytes: [UInt8], state: State)] = [:]
    }

    private let stripes: [Stripe]
    private let limitPerStripe: Int
    /// Whether states of this type are kept (not a class), decided once: a dynamic cast per event
    /// showed in the runtime's profile.
    private let keepsStates = !(State.self is AnyClass)

    /// A cache of at most about `limit` keys.
    init(limit: Int = 16_384, stripes count: Int = 16) {
        stripes = (0..<count).map { _ in Stripe() }
        limitPerStripe = max(1, limit / count)
    }

    private func stripe(of key: String) -> Stripe { stripes[Int(UInt(bitPattern: key.hashValue) % UInt(stripes.count))] }

    /// The state of `key` decoded from `bytes`, if it was kept.
    func state(of key: String, storedAs bytes: [UInt8]) -> State? {
        let stripe = stripe(of: key)
        return stripe.lock.withLock {
            guard let entry = stripe.entries[key], entry.bytes == bytes else { return nil }
            return entry.state
        }
    }

    /// Keeps `state` of `key`, stored as `bytes`; nil forgets the key.
    func keep(_ state: State?, of key: String, storedAs bytes: [UInt8]?) {
        guard keepsStates else { return }
        let stripe = stripe(of: key)
        stripe.lock.withLock {
            guard let state, let bytes else {
                stripe.entries[key] = nil
                return
            }
            if stripe.entries[key] == nil && stripe.entries.count >= limitPerStripe { stripe.entries.remove(at: stripe.entries.startIndex) }
            stripe.entries[key] = (bytes, state)
        }
    }
}
