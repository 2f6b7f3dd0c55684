import ClusterCore
import XCTest

/// The coordinator's protocol, step by step.
final class GroupCoordinatorTests: XCTestCase {
    private let orders: Set<String> = ["orders"]

    func testASecondMemberGetsPartitionsOnlyAfterTheFirstRevokesThem() throws {
        var coordinator = GroupCoordinator(groupID: "billing")
        coordinator.updateTopics(["orders": 4])
        let first = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 0)
        XCTAssertEqual(first.assignment.count, 4)
        let second = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 10)
        XCTAssertTrue(second.assignment.isEmpty, "the first member still holds everything")
        // The first member is told to keep two partitions: it must revoke the other two.
        let shrink = try coordinator.heartbeat(MemberHeartbeat(memberID: first.memberID, memberEpoch: first.memberEpoch, ownedPartitions: first.assignment), now: 20)
        XCTAssertEqual(shrink.assignment.count, 2)
        XCTAssertEqual(coordinator.members[first.memberID]?.state, .unrevokedPartitions)
        let revoked = first.assignment.subtracting(shrink.assignment)
        // It may still commit what it is revoking.
        try coordinator.commit(memberID: first.memberID, memberEpoch: shrink.memberEpoch, partition: revoked.first!, offset: 99)
        XCTAssertTrue(try coordinator.heartbeat(MemberHeartbeat(memberID: second.memberID, memberEpoch: second.memberEpoch), now: 30).assignment.isEmpty,
                      "nothing moves before the revocation is confirmed")
        _ = try coordinator.heartbeat(MemberHeartbeat(memberID: first.memberID, memberEpoch: shrink.memberEpoch, ownedPartitions: shrink.assignment), now: 40)
        let grown = try coordinator.heartbeat(MemberHeartbeat(memberID: second.memberID, memberEpoch: second.memberEpoch), now: 50)
        XCTAssertEqual(grown.assignment, revoked)
        XCTAssertEqual(coordinator.members[second.memberID]?.state, .stable)
        XCTAssertEqual(coordinator.takeFinishedRebalance(), 40, "from the second member's join (10 ms) to it holding its part (50 ms)")
        XCTAssertNil(coordinator.takeFinishedRebalance(), "told once")
        XCTAssertEqual(coordinator.committedOffsets[revoked.first!], 99)
    }

    func testAnExpiredMemberIsFencedAndItsCommitsRefused() throws {
        var coordinator = GroupCoordinator(groupID: "billing", sessionTimeout: 1000)
        coordinator.updateTopics(["orders": 2])
        let zombie = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 0)
        XCTAssertEqual(coordinator.expireMembers(now: 2000), [zombie.memberID])
        let survivor = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 2001)
        XCTAssertEqual(survivor.assignment.count, 2, "the zombie's partitions were released at once")
        XCTAssertThrowsError(try coordinator.commit(memberID: zombie.memberID, memberEpoch: zombie.memberEpoch, partition: TopicPartition("orders", 0), offset: 5)) { error in
            XCTAssertEqual((error as? GroupError)?.code, .unknownMemberID)
        }
        XCTAssertThrowsError(try coordinator.heartbeat(MemberHeartbeat(memberID: zombie.memberID, memberEpoch: zombie.memberEpoch), now: 2002)) { error in
            XCTAssertEqual((error as? GroupError)?.code, .unknownMemberID)
        }
        XCTAssertNil(coordinator.committedOffsets[TopicPartition("orders", 0)])
    }

    func testStaleEpochsAndForeignPartitionsAreRefused() throws {
        var coordinator = GroupCoordinator(groupID: "g")
        coordinator.updateTopics(["orders": 2])
        let member = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 0)
        XCTAssertThrowsError(try coordinator.heartbeat(MemberHeartbeat(memberID: member.memberID, memberEpoch: member.memberEpoch + 5), now: 1)) { error in
            XCTAssertEqual((error as? GroupError)?.code, .fencedMemberEpoch)
        }
        XCTAssertThrowsError(try coordinator.commit(memberID: member.memberID, memberEpoch: member.memberEpoch, partition: TopicPartition("payments", 0), offset: 1)) { error in
            XCTAssertEqual((error as? GroupError)?.code, .notPartitionOwner)
        }
        XCTAssertThrowsError(try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 3), now: 2)) { error in
            XCTAssertEqual((error as? GroupError)?.code, .invalidRequest)
        }
    }

    func testPartitionsThatDoNotMoveAreNeverPaused() throws {
        var coordinator = GroupCoordinator(groupID: "g")
        coordinator.updateTopics(["orders": 6])
        let first = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 0)
        _ = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 1)
        let next = try coordinator.heartbeat(MemberHeartbeat(memberID: first.memberID, memberEpoch: first.memberEpoch, ownedPartitions: first.assignment), now: 2)
        XCTAssertEqual(next.assignment.count, 3)
        XCTAssertTrue(next.assignment.isSubset(of: first.assignment), "the kept partitions stay assigned throughout")
    }

    func testLeavingReleasesPartitionsImmediately() throws {
        var coordinator = GroupCoordinator(groupID: "g")
        coordinator.updateTopics(["orders": 2])
        let first = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 0)
        let second = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 1)
        _ = try coordinator.heartbeat(MemberHeartbeat(memberID: first.memberID, memberEpoch: MemberHeartbeat.leaveEpoch), now: 2)
        XCTAssertEqual(try coordinator.heartbeat(MemberHeartbeat(memberID: second.memberID, memberEpoch: second.memberEpoch), now: 3).assignment.count, 2)
    }

    func testAMemberWaitingForReleasedPartitionsIsToldSoAndStopsWaitingOnceItHasThem() throws {
        var coordinator = GroupCoordinator(groupID: "g")
        coordinator.updateTopics(["orders": 2])
        let first = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 0)
        XCTAssertFalse(first.awaitingPartitions, "nothing of its target is held by another")
        let second = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 1)
        XCTAssertTrue(second.awaitingPartitions, "its target partition is still the first member's")
        let shrink = try coordinator.heartbeat(MemberHeartbeat(memberID: first.memberID, memberEpoch: first.memberEpoch, ownedPartitions: first.assignment), now: 2)
        XCTAssertFalse(shrink.awaitingPartitions, "a member told to revoke waits for nothing")
        _ = try coordinator.heartbeat(MemberHeartbeat(memberID: first.memberID, memberEpoch: shrink.memberEpoch, ownedPartitions: shrink.assignment), now: 3)
        let grown = try coordinator.heartbeat(MemberHeartbeat(memberID: second.memberID, memberEpoch: second.memberEpoch), now: 4)
        XCTAssertEqual(grown.assignment.count, 1)
        XCTAssertFalse(grown.awaitingPartitions)
    }

    /// A coordinator that moved restores members as last recorded; the previous one may have
    /// answered a later epoch it never recorded (its records are stored without waiting). That
    /// member is live — epochs only grow — and keeps its partitions instead of being fenced and
    /// leaving them held by its restored self until its session ends.
    func testARestoredMemberAtALaterUnrecordedEpochKeepsItsPartitions() throws {
        var coordinator = GroupCoordinator(groupID: "g", epoch: 3)
        coordinator.updateTopics(["orders": 2])
        let id = MemberID("g-survivor")
        let held: Set<TopicPartition> = [TopicPartition("orders", 0), TopicPartition("orders", 1)]
        coordinator.restoreMember(id, epoch: 3, subscribedTopics: orders, assigned: held, now: 0)
        XCTAssertThrowsError(try coordinator.heartbeat(MemberHeartbeat(memberID: id, memberEpoch: 2, ownedPartitions: held), now: 5),
                             "an older epoch is still a zombie's") { error in
            XCTAssertEqual((error as? GroupError)?.code, .fencedMemberEpoch)
        }
        let answer = try coordinator.heartbeat(MemberHeartbeat(memberID: id, memberEpoch: 4, ownedPartitions: held), now: 10)
        XCTAssertEqual(answer.assignment, held)
        let next = try coordinator.heartbeat(MemberHeartbeat(memberID: id, memberEpoch: answer.memberEpoch, ownedPartitions: held), now: 20)
        XCTAssertEqual(next.assignment, held)
        XCTAssertThrowsError(try coordinator.heartbeat(MemberHeartbeat(memberID: id, memberEpoch: answer.memberEpoch + 7, ownedPartitions: held), now: 30),
                             "only a restored member's first heartbeat may bring a later epoch")
    }
}
