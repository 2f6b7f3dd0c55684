/// The sticky, uniform assignor: a pure function from members, their subscriptions and the
/// previous assignment to a new one (Kafka's `UniformAssignor` idea, KIP-848).
///
/// Partitions stay where they are unless their member left, unsubscribed, or holds more than its
/// share; freed partitions go to the eligible member with the fewest. With identical
/// subscriptions every member ends within one partition of every other, and no member both loses
/// and gains partitions (the least movement that balances).
public enum UniformAssignor {
    /// The new assignment.
    /// - Parameters:
    ///   - members: each member's subscribed topics.
    ///   - partitionCounts: the partition count of each topic.
    ///   - previous: the previous target assignment (members that left are ignored).
    public static func assign(
        members: [MemberID: Set<String>], partitionCounts: [String: Int32], previous: [MemberID: Set<TopicPartition>]
    ) -> [MemberID: Set<TopicPartition>] {
        let memberIDs = members.keys.sorted()
        var result = Dictionary(uniqueKeysWithValues: memberIDs.map { ($0, Set<TopicPartition>()) })
        guard !memberIDs.isEmpty else { return result }
        let subscribedTopics = Set(members.values.flatMap { $0 }).filter { partitionCounts[$0] != nil }
        var all: [TopicPartition] = []
        for topic in subscribedTopics.sorted() {
            for partition in 0..<(partitionCounts[topic] ?? 0) { all.append(TopicPartition(topic, partition)) }
        }
        func eligible(_ member: MemberID, _ partition: TopicPartition) -> Bool {
            members[member]?.contains(partition.topic) ?? false
        }
        // 1. Keep what is still valid.
        var owner: [TopicPartition: MemberID] = [:]
        for member in memberIDs {
            for partition in (previous[member] ?? []).sorted() where eligible(member, partition) && partition.partition < (partitionCounts[partition.topic] ?? 0) {
                guard owner[partition] == nil else { continue }
                owner[partition] = member
                result[member]!.insert(partition)
            }
        }
        // 2. Members above their share give up their highest partitions.
        let (minimum, extra) = shares(partitions: all, members: memberIDs, eligible: eligible)
        var allowedAboveMinimum = extra
        for member in memberIDs.sorted(by: { (result[$0]!.count, $0) > (result[$1]!.count, $1) }) {
            var limit = minimum[member]!
            if allowedAboveMinimum > 0 && result[member]!.count > limit {
                limit += 1
                allowedAboveMinimum -= 1
            }
            while result[member]!.count > limit {
                let released = result[member]!.max()!
                result[member]!.remove(released)
                owner[released] = nil
            }
        }
        // 3. Free partitions go to the eligible member with the fewest (ties: lowest id).
        for partition in all where owner[partition] == nil {
            guard let member = memberIDs.filter({ eligible($0, partition) }).min(by: { (result[$0]!.count, $0) < (result[$1]!.count, $1) }) else {
                continue
            }
            owner[partition] = member
            result[member]!.insert(partition)
        }
        // 4. Even out what mixed subscriptions left uneven, moving one partition at a time.
        var moved = true
        while moved {
            moved = false
            for heavy in memberIDs.sorted(by: { (result[$0]!.count, $0) > (result[$1]!.count, $1) }) {
                for light in memberIDs.sorted(by: { (result[$0]!.count, $0) < (result[$1]!.count, $1) })
                where result[heavy]!.count - result[light]!.count > 1 {
                    if let partition = result[heavy]!.sorted().last(where: { eligible(light, $0) }) {
                        result[heavy]!.remove(partition)
                        result[light]!.insert(partition)
                        moved = true
                        break
                    }
                }
                if moved { break }
            }
        }
        return result
    }

    /// For identical subscriptions: everyone gets ⌊P/M⌋ and `P mod M` members one more. With
    /// mixed subscriptions each member's minimum is bounded by what it can take.
    private static func shares(partitions: [TopicPartition], members: [MemberID],
                               eligible: (MemberID, TopicPartition) -> Bool) -> ([MemberID: Int], Int) {
        let base = partitions.count / members.count
        var minimum: [MemberID: Int] = [:]
        for member in members {
            minimum[member] = min(base, partitions.filter { eligible(member, $0) }.count)
        }
        return (minimum, partitions.count - base * members.count)
    }
}
