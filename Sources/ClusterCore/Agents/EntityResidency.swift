/// Which entities of a shard stay in memory (DESIGN §4 passivation): the least recently used
/// beyond `maxLive`, and any idle for `idleAfter` milliseconds, leave memory (their state stays in
/// the changelog and comes back when the key is needed). Pure: the caller passes the time and
/// says which keys are busy (queued or running), which are never evicted.
public struct EntityResidency: Sendable {
    /// Entities kept in memory at most.
    public let maxLive: Int
    /// Idle time (ms) after which an entity leaves memory.
    public let idleAfter: Int64
    private var lastUse: [String: UInt64] = [:]
    /// Uses in order (key, use number, time); an entry is stale once its key was used again.
    private var uses: [(key: String, use: UInt64, time: Int64)] = []
    private var head = 0
    private var counter: UInt64 = 0

    /// A policy keeping at most `maxLive` entities, none idle for `idleAfter` ms.
    public init(maxLive: Int = 10_000, idleAfter: Int64 = 300_000) {
        self.maxLive = max(1, maxLive)
        self.idleAfter = max(0, idleAfter)
    }

    /// Entities in memory.
    public var liveCount: Int { lastUse.count }

    /// Whether `key` is in memory by this policy's account.
    public func isLive(_ key: String) -> Bool { lastUse[key] != nil }

    /// `key` was used (loaded, or an event of it handled) at `now`.
    public mutating func touch(_ key: String, now: Int64) {
        counter += 1
        lastUse[key] = counter
        uses.append((key, counter, now))
        // Stale entries (keys used again since) are dropped once they outnumber the live ones, so
        // the list stays within about twice the live entities however often keys are used.
        if uses.count - head > 2 * lastUse.count + 1024 {
            uses = uses[head...].filter { lastUse[$0.key] == $0.use }
            head = 0
        }
    }

    /// The entities to passivate now, least recently used first: while more than `maxLive` are
    /// live, and every one idle for `idleAfter`. Busy keys are kept (counted as used now).
    public mutating func evictions(now: Int64, isBusy: (String) -> Bool) -> [String] {
        var evicted: [String] = []
        var kept: [String] = []
        while head < uses.count {
            let oldest = uses[head]
            guard lastUse[oldest.key] == oldest.use else {
                head += 1
                continue
            }
            guard lastUse.count > maxLive || now - oldest.time >= idleAfter else { break }
            head += 1
            if isBusy(oldest.key) {
                kept.append(oldest.key)
                lastUse[oldest.key] = nil
                continue
            }
            lastUse[oldest.key] = nil
            evicted.append(oldest.key)
        }
        for key in kept { touch(key, now: now) }
        return evicted
    }
}
