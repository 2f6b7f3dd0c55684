/// Who holds a partition and who leads it, as the metadata records it (Kafka's partition
/// registration): the replicas in preference order, the in-sync replicas, the leader and the
/// epochs that fence every older view.
public struct PartitionState: Sendable, Hashable, Codable {
    /// The node that takes writes (nil: offline — no in-sync replica is alive).
    public var leader: String?
    /// The nodes holding a copy, in preference order: the first is the preferred leader.
    public var replicas: [String]
    /// The replicas known to hold every record below the high watermark; the leader is one of them.
    public var isr: [String]
    /// Raised on every change of leader: a replica refuses requests of an older epoch, and the
    /// batches a leader appends carry it (a returning replica truncates by it).
    public var leaderEpoch: Int32
    /// Raised on every change of this record (leader or ISR): a change proposed against an older
    /// epoch is refused, so two concurrent changes never both apply.
    public var partitionEpoch: Int32
    /// While a replica moves (``ReplicaBalance``): the replica that leaves once the new one, the
    /// last of `replicas`, is in sync. Nil when nothing moves.
    public var removing: String?

    /// A partition's state.
    public init(leader: String?, replicas: [String], isr: [String], leaderEpoch: Int32 = 0, partitionEpoch: Int32 = 0,
                removing: String? = nil) {
        self.leader = leader
        self.replicas = replicas
        self.isr = isr
        self.leaderEpoch = leaderEpoch
        self.partitionEpoch = partitionEpoch
        self.removing = removing
    }

    /// The replica being added by the move in flight (the last of `replicas`), if any.
    public var adding: String? { removing == nil ? nil : replicas.last }

    /// Whether the record is self-consistent: replicas distinct and non-empty, the ISR a subset
    /// of them, the leader (if any) in the ISR.
    public func check() throws(MetadataError) {
        guard !replicas.isEmpty, Set(replicas).count == replicas.count else {
            throw MetadataError(code: .invalidConfiguration, message: "replicas \(replicas) must be distinct and not empty")
        }
        guard Set(isr).isSubset(of: replicas), Set(isr).count == isr.count else {
            throw MetadataError(code: .invalidConfiguration, message: "in-sync replicas \(isr) must be distinct replicas of \(replicas)")
        }
        if let leader, !isr.contains(leader) {
            throw MetadataError(code: .invalidConfiguration, message: "leader \(leader) must be in sync (\(isr))")
        }
    }

    /// Whether `next` may follow this state: the partition epoch raised by one, the leader
    /// epoch never lowered and raised whenever the leader changes, the replicas unchanged — but
    /// for the three steps of a move (``ReplicaBalance``), each raising the leader epoch: a new
    /// replica added last with the one to leave named; once the new one is in sync, it takes the
    /// leaving one's place (and leadership, if that one led); or, undone, the new one dropped.
    public func checkSuccessor(_ next: PartitionState) throws(MetadataError) {
        try next.check()
        guard next.partitionEpoch == partitionEpoch + 1 else {
            throw MetadataError(code: .staleEpoch,
                                message: "partition epoch \(next.partitionEpoch) does not follow the recorded \(partitionEpoch); refresh and retry")
        }
        guard next.leaderEpoch >= leaderEpoch, next.leader == leader || next.leaderEpoch > leaderEpoch else {
            throw MetadataError(code: .staleEpoch,
                                message: "a change of leader must raise the leader epoch (recorded \(leaderEpoch), proposed \(next.leaderEpoch))")
        }
        guard next.replicas != replicas || next.removing != removing else { return }
        guard next.leaderEpoch > leaderEpoch, isMoveStep(to: next) else {
            throw MetadataError(code: .invalidConfiguration,
                                message: "replicas cannot change from \(replicas) (leaving \(removing ?? "none")) to \(next.replicas) (leaving \(next.removing ?? "none")) at leader epoch \(next.leaderEpoch)")
        }
    }

    /// Whether `next` is one step of a move from this state (see ``checkSuccessor(_:)``).
    private func isMoveStep(to next: PartitionState) -> Bool {
        guard let leaving = removing else {
            // Start: one new replica added last, a current one named to leave; nothing else changes.
            guard let added = next.replicas.last, let named = next.removing else { return false }
            return next.replicas == replicas + [added] && replicas.contains(named) && next.isr == isr && next.leader == leader
        }
        guard let added = adding, next.removing == nil else { return false }
        if next.replicas == Array(replicas.dropLast()) {
            // Undone: the new replica leaves; it led nothing.
            return leader != added && !next.isr.contains(added)
        }
        // Done: the new replica, in sync, takes the leaving one's place and its leadership.
        let placed = replicas.dropLast().map { $0 == leaving ? added : $0 }
        return isr.contains(added) && next.replicas == placed && !next.isr.contains(leaving) && next.isr.contains(added)
            && next.leader == (leader == leaving ? added : leader)
    }
}
