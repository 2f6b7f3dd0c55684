/// A partition leader's view of its followers, as a pure value: how far each follower's log
/// reaches (its fetch offset), when each was last caught up, the high watermark that follows from
/// the in-sync replicas, and the ISR change to ask the controller for (Kafka's replica manager).
///
/// Times are milliseconds of the leader's clock, passed in.
public struct ReplicaTracker: Sendable, Hashable {
    /// The leader (this node).
    public let leader: String
    /// Every replica of the partition.
    public let replicas: [String]
    /// The in-sync replicas as recorded in the metadata (the leader included).
    public private(set) var isr: [String]
    /// The offset below which every in-sync replica holds the log: what consumers may read and
    /// what `acks=all` waits for. Never decreases.
    public private(set) var highWatermark: Int64
    /// How long a follower may stay behind the leader's log end before it leaves the ISR.
    public var lagBound: Int64
    /// The ISR asked of the controller and not yet recorded. Until it is, the high watermark
    /// counts every replica in either set (Kafka's "maximal ISR"): a follower being added may
    /// already be in the controller's ISR — and so electable — before the leader hears so.
    public private(set) var pendingISR: [String]?
    /// How recently a follower must have fetched to join the ISR (ms): one that stopped
    /// fetching (its node died) is never asked back in on the strength of an old position.
    public var joinFreshness: Int64 = 2_000
    private var followerEnd: [String: Int64] = [:]
    private var lastFetched: [String: Int64] = [:]
    private var lastCaughtUp: [String: Int64] = [:]
    private var leaderEnd: Int64
    /// The leader's log end when this term of leadership began (its leader epoch's start offset).
    public let termStart: Int64

    /// A tracker for a new term of leadership: every follower counts as caught up now (it gets
    /// a full `lagBound` to show it is), the high watermark starts at what the leader knew.
    public init(leader: String, replicas: [String], isr: [String], logEnd: Int64, highWatermark: Int64, lagBound: Int64, now: Int64) {
        self.leader = leader
        self.replicas = replicas
        self.isr = isr
        self.highWatermark = min(highWatermark, logEnd)
        self.lagBound = lagBound
        leaderEnd = logEnd
        termStart = logEnd
        for follower in replicas where follower != leader { lastCaughtUp[follower] = now }
    }

    /// How far `follower`'s log is known to reach (nil: it has not fetched this term).
    public func logEnd(of follower: String) -> Int64? { followerEnd[follower] }

    /// The leader's log grew to `logEnd`; returns the high watermark (which moves only when the
    /// leader is the only in-sync replica).
    @discardableResult
    public mutating func leaderAppended(logEnd: Int64) -> Int64 {
        leaderEnd = logEnd
        return advance()
    }

    /// `follower` fetched from `offset` (so its log holds everything below it) at `now`; returns
    /// the high watermark.
    @discardableResult
    public mutating func followerFetched(_ follower: String, offset: Int64, now: Int64) -> Int64 {
        guard replicas.contains(follower), follower != leader else { return highWatermark }
        followerEnd[follower] = offset
        lastFetched[follower] = now
        if offset >= leaderEnd { lastCaughtUp[follower] = now }
        return advance()
    }

    /// Decides the ISR to ask the controller for now (nil: none) and counts it as pending until
    /// the controller records an ISR (``isrChanged(to:)``).
    /// Every request sent at the current partition epoch may still be applied, so the pending
    /// set accumulates them all until the controller records a new ISR.
    public mutating func proposeISR(now: Int64) -> [String]? {
        guard let next = proposedISR(now: now) else { return nil }
        pendingISR = replicas.filter { next.contains($0) || (pendingISR ?? []).contains($0) }
        return next
    }

    /// The ISR to ask the controller for now, or nil when it should stay: in-sync followers not
    /// caught up within `lagBound` leave; followers out of sync come back once their log reaches
    /// the high watermark *and* the start of this term (Kafka's rule: a new leader's high
    /// watermark may lag what was committed before it, but everything committed lies below the
    /// term's start), and the leader's log end or was there within `lagBound` — and only while
    /// they keep fetching (within `joinFreshness`).
    public func proposedISR(now: Int64) -> [String]? {
        var next = isr.filter { member in
            member == leader || now - (lastCaughtUp[member] ?? now) <= lagBound
        }
        for follower in replicas where follower != leader && !next.contains(follower) && !isr.contains(follower) {
            if let end = followerEnd[follower], end >= highWatermark, end >= termStart,
               now - (lastFetched[follower] ?? .min) <= joinFreshness,
               end >= leaderEnd || now - (lastCaughtUp[follower] ?? .min) <= lagBound {
                next.append(follower)
            }
        }
        next = replicas.filter { next.contains($0) }
        return next == isr ? nil : next
    }

    /// The controller recorded a new ISR (any pending request is answered by it).
    public mutating func isrChanged(to isr: [String]) {
        self.isr = isr
        pendingISR = nil
        advance()
    }

    /// The high watermark: the lowest log end among the in-sync replicas — recorded or pending —
    /// never lowered.
    @discardableResult
    private mutating func advance() -> Int64 {
        var lowest = leaderEnd
        for member in Set(isr).union(pendingISR ?? []) where member != leader {
            lowest = min(lowest, followerEnd[member] ?? highWatermark)
        }
        if lowest > highWatermark { highWatermark = lowest }
        return highWatermark
    }
}
