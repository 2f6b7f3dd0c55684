import Foundation

/// The decoded states handlers left, by key, with the bytes they were stored as: the next event of
/// a key reuses the value instead of decoding the same bytes again (JSON decoding was a tenth of
/// the runtime's time per event). A value is reused only while the shard hands over exactly the
/// bytes it came with, so a state replayed, reloaded or changed elsewhere is decoded afresh.
/// Class states are never kept (a failed attempt could have changed one in place). The keys are
/// spread over stripes with a lock each, so the shards of a host rarely wait for one another.
///
/// The stripes hold no type made from `State` (a state is boxed, the box held as `AnyObject`):
/// this code runs unspecialised for a user's agent type, and every tuple, optional or dictionary
/// of `State` cost a metadata lookup in the runtime on each access (4% of the agent's profile).
final class DecodedStates<State: Sendable>: @unchecked Sendable {
    /// A kept state.
    private final class Box: @unchecked Sendable {
        let state: State
        init(_ state: State) { self.state = state }
    }

    private let stripes: [DecodedStateStripe]
    private let limitPerStripe: Int
    /// Whether states of this type are kept (not a class), decided once: a dynamic cast per event
    /// showed in the runtime's profile.
    private let keepsStates = !(State.self is AnyClass)

    /// A cache of at most about `limit` keys.
    init(limit: Int = 16_384, stripes count: Int = 16) {
        stripes = (0..<count).map { _ in DecodedStateStripe() }
        limitPerStripe = max(1, limit / count)
    }

    /// The stripe of `key`, by an FNV-1a hash of its bytes: spread is all it needs, and the
    /// dictionary in the stripe hashes the key again anyway (a seeded `hashValue` here made two
    /// full hashes of every key per event).
    private func stripe(of key: String) -> DecodedStateStripe {
        var hash: UInt32 = 2_166_136_261
        for byte in key.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return stripes[Int(hash % UInt32(stripes.count))]
    }

    /// The state of `key` decoded from `bytes`, if it was kept.
    func state(of key: String, storedAs bytes: [UInt8]) -> State? {
        guard let box = stripe(of: key).box(of: key, storedAs: bytes) else { return nil }
        // Only boxes of this type are stored here.
        return unsafeDowncast(box, to: Box.self).state
    }

    /// Keeps `state` of `key`, stored as `bytes`; nil forgets the key.
    func keep(_ state: State?, of key: String, storedAs bytes: [UInt8]?) {
        guard keepsStates else { return }
        let stripe = stripe(of: key)
        guard let state, let bytes else { return stripe.forget(key) }
        stripe.keep(Box(state), of: key, storedAs: bytes, limit: limitPerStripe)
    }
}

/// One lock's share of a ``DecodedStates``: boxed states by key, with the bytes each came from.
private final class DecodedStateStripe: @unchecked Sendable {
    private struct Entry {
        var bytes: [UInt8]
        var box: AnyObject
    }

    // `entries` is guarded by `lock`.
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    /// The box kept for `key` if it was kept for exactly `bytes`.
    func box(of key: String, storedAs bytes: [UInt8]) -> AnyObject? {
        lock.withLock {
            guard let entry = entries[key], entry.bytes == bytes else { return nil }
            return entry.box
        }
    }

    /// Keeps `box` for `key` (dropping another key when the stripe holds `limit`).
    func keep(_ box: AnyObject, of key: String, storedAs bytes: [UInt8], limit: Int) {
        lock.withLock {
            // One lookup: a key new to a full stripe then drops another key.
            guard entries.updateValue(Entry(bytes: bytes, box: box), forKey: key) == nil, entries.count > limit else { return }
            let first = entries.startIndex
            entries.remove(at: entries[first].key == key ? entries.index(after: first) : first)
        }
    }

    /// Forgets `key`.
    func forget(_ key: String) {
        lock.withLock { entries[key] = nil }
    }
}
