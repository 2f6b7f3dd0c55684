/// What the application must do after driving a ``RaftNode``, in this order: persist `snapshot`,
/// `entries` and `hardState` (durably); only then send `messages`; then apply `committedEntries`.
///
/// Sending before persisting would let a crash forget a vote or an acknowledged entry.
public struct RaftReady: Sendable, Hashable {
    /// A snapshot from the leader to persist and load into the state machine, replacing the whole log.
    public var snapshot: RaftSnapshot?
    /// Entries to persist. The first one's index may be at or below the stored last index: the stored
    /// entries from that index on are replaced (a conflicting suffix truncated).
    public var entries: [RaftEntry] = []
    /// The hard state to persist, when it changed.
    public var hardState: RaftHardState?
    /// Messages to send once the above is durable.
    public var messages: [RaftMessage] = []
    /// Committed entries to apply to the state machine, in order.
    public var committedEntries: [RaftEntry] = []

    /// An empty directive.
    public init() {}

    /// Whether there is nothing to do.
    public var isEmpty: Bool {
        snapshot == nil && entries.isEmpty && hardState == nil && messages.isEmpty && committedEntries.isEmpty
    }
}
