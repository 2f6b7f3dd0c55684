import Foundation

/// How often an agent host's committer looks for offsets to commit and shards to make: every
/// 100 ms while it finds work, every second once ten rounds in a row found none, so an idle
/// node's hosts wake once a second each rather than ten times. Whatever makes work while the
/// pace is slow (a delivery, an assignment) ends the committer's wait at once.
final class CommitterPace: @unchecked Sendable {
    /// The spacing while rounds find work.
    static let busy = Duration.milliseconds(100)
    /// The spacing once ``quietBeforeIdle`` rounds in a row found none.
    static let idle = Duration.seconds(1)
    /// Empty rounds in a row after which the committer waits at the ``idle`` spacing.
    static let quietBeforeIdle = 10

    // `quietRounds` and `count` are guarded by `lock`.
    private let lock = NSLock()
    private var quietRounds = 0
    private var count = 0

    /// How long the committer waits before its next round.
    var spacing: Duration { lock.withLock { quietRounds >= Self.quietBeforeIdle ? Self.idle : Self.busy } }

    /// Whether the committer waits at the slow pace (work made for it should wake it).
    var isIdle: Bool { lock.withLock { quietRounds >= Self.quietBeforeIdle } }

    /// Rounds the committer has made.
    var rounds: Int { lock.withLock { count } }

    /// A round ended; `active`: it found work (committed, made or dropped a shard).
    func ended(active: Bool) {
        lock.withLock {
            count += 1
            quietRounds = active ? 0 : quietRounds + 1
        }
    }
}
