import ClusterCore
import GanglionTestKit
import XCTest

/// The assignor is fuzzed for balance, exactly-one-owner and minimal movement.
final class UniformAssignorTests: XCTestCase {
    private func members(_ count: Int, topics: Set<String>) -> [MemberID: Set<String>] {
        Dictionary(uniqueKeysWithValues: (0..<count).map { (MemberID("m\($0)"), topics) })
    }

    func testEveryPartitionOnceAndBalancedWithinOneForIdenticalSubscriptions() {
        var random = SeededGenerator(seed: 42)
        for round in 0..<500 {
            let topics = Dictionary(uniqueKeysWithValues: (0..<(1 + Int(random.next() % 3))).map { ("t\($0)", Int32(1 + random.next() % 20)) })
            var previous: [MemberID: Set<TopicPartition>] = [:]
            var group = members(1 + Int(random.next() % 8), topics: Set(topics.keys))
            for step in 0..<6 {
                let assignment = UniformAssignor.assign(members: group, partitionCounts: topics, previous: previous)
                let all = assignment.values.flatMap { $0 }
                XCTAssertEqual(all.count, Set(all).count, "round \(round) step \(step): a partition has two owners")
                XCTAssertEqual(all.count, Int(topics.values.reduce(0, +)), "round \(round) step \(step): unassigned partitions")
                let counts = assignment.values.map(\.count)
                XCTAssertLessThanOrEqual(counts.max()! - counts.min()!, 1, "round \(round) step \(step): unbalanced \(counts)")
                // Minimal movement: no surviving member both gives up and receives partitions.
                for (member, now) in assignment {
                    let before = previous[member] ?? []
                    let lost = before.subtracting(now), gained = now.subtracting(before)
                    XCTAssertTrue(lost.isEmpty || gained.isEmpty, "round \(round) step \(step): \(member) lost \(lost) and gained \(gained)")
                }
                previous = assignment
                // Members come and go.
                if random.next() % 2 == 0 || group.count == 1 {
                    group[MemberID("m\(100 + step)")] = Set(topics.keys)
                } else {
                    group.removeValue(forKey: group.keys.sorted()[Int(random.next() % UInt64(group.count))])
                }
            }
        }
    }

    func testMixedSubscriptionsGiveEachPartitionToOneEligibleMember() {
        var random = SeededGenerator(seed: 7)
        for round in 0..<300 {
            let topics: [String: Int32] = ["a": Int32(1 + random.next() % 10), "b": Int32(1 + random.next() % 10), "c": 3]
            var group: [MemberID: Set<String>] = [:]
            for index in 0..<(1 + Int(random.next() % 6)) {
                group[MemberID("m\(index)")] = Set(["a", "b", "c"].filter { _ in random.next() % 2 == 0 })
            }
            let assignment = UniformAssignor.assign(members: group, partitionCounts: topics, previous: [:])
            let all = assignment.values.flatMap { $0 }
            XCTAssertEqual(all.count, Set(all).count, "round \(round)")
            for (member, partitions) in assignment {
                XCTAssertTrue(partitions.allSatisfy { group[member]!.contains($0.topic) }, "round \(round): \(member) got a topic it does not read")
            }
            let subscribed = Set(group.values.flatMap { $0 })
            XCTAssertEqual(all.count, subscribed.reduce(0) { $0 + Int(topics[$1]!) }, "round \(round): every subscribed partition is assigned")
        }
    }

    func testStickyWhenNothingChanges() {
        let group = members(3, topics: ["orders"])
        let first = UniformAssignor.assign(members: group, partitionCounts: ["orders": 10], previous: [:])
        XCTAssertEqual(UniformAssignor.assign(members: group, partitionCounts: ["orders": 10], previous: first), first)
    }
}
