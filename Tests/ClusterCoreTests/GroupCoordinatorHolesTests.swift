import ClusterCore
import XCTest

/// The small protocol holes of the coordinator: unrelated topics, retried joins, member ids
/// across restarts, commits that are checked without being applied.
final class GroupCoordinatorHolesTests: XCTestCase {
    private let orders: Set<String> = ["orders"]

    func testCreatingOrDeletingAnUnrelatedTopicDoesNotBumpTheGroupEpoch() throws {
        var coordinator = GroupCoordinator(groupID: "billing")
        coordinator.updateTopics(["orders": 4])
        _ = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 0)
        let epoch = coordinator.groupEpoch
        coordinator.updateTopics(["orders": 4, "audit": 2])
        coordinator.updateTopics(["orders": 4])
        XCTAssertEqual(coordinator.groupEpoch, epoch, "topics the group does not subscribe to leave it alone")
        coordinator.updateTopics(["orders": 6])
        XCTAssertGreaterThan(coordinator.groupEpoch, epoch, "a subscribed topic's partitions changed")
    }

    func testAJoinRetriedWithTheClientsMemberIDIsTheSameMember() throws {
        var coordinator = GroupCoordinator(groupID: "billing")
        coordinator.updateTopics(["orders": 4])
        let id = MemberID("client-chosen-1")
        let first = try coordinator.heartbeat(MemberHeartbeat(memberID: id, memberEpoch: 0, subscribedTopics: orders), now: 0)
        // The response was lost; the client joins again with the same id.
        let retried = try coordinator.heartbeat(MemberHeartbeat(memberID: id, memberEpoch: 0, subscribedTopics: orders), now: 10)
        XCTAssertEqual(first.memberID, id)
        XCTAssertEqual(retried.memberID, id)
        XCTAssertEqual(coordinator.members.count, 1, "no orphan member holds partitions")
        XCTAssertEqual(retried.assignment, first.assignment)
    }

    func testGeneratedMemberIDsAreNotReusedAfterARestart() throws {
        var before = GroupCoordinator(groupID: "billing")
        before.updateTopics(["orders": 2])
        let old = try before.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 0)
        // The node restarts: epochs continue from the metadata log, the members are gone.
        var after = GroupCoordinator(groupID: "billing", epoch: before.groupEpoch)
        after.updateTopics(["orders": 2])
        let new = try after.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 0)
        XCTAssertNotEqual(new.memberID, old.memberID, "a zombie of the old incarnation must not pass for the new member")
    }

    func testACommitIsCheckedWithoutBeingApplied() throws {
        var coordinator = GroupCoordinator(groupID: "billing")
        coordinator.updateTopics(["orders": 1])
        let member = try coordinator.heartbeat(MemberHeartbeat(memberID: nil, memberEpoch: 0, subscribedTopics: orders), now: 0)
        let partition = TopicPartition("orders", 0)
        try coordinator.checkCommit(memberID: member.memberID, memberEpoch: member.memberEpoch, partition: partition)
        XCTAssertNil(coordinator.committedOffsets[partition], "visible only once durable")
        XCTAssertThrowsError(try coordinator.checkCommit(memberID: MemberID("nobody"), memberEpoch: 1, partition: partition))
    }
}
