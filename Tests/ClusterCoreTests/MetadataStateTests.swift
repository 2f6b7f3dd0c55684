import ClusterCore
import XCTest

/// The metadata state machine validates and applies topic changes deterministically.
final class MetadataStateTests: XCTestCase {
    func testTopicsAreCreatedAndDeleted() throws {
        var state = MetadataState()
        let create = MetadataRecord.topicCreated(name: "orders", configuration: TopicConfiguration(partitions: 3))
        try state.validate(create)
        state.apply(create)
        XCTAssertEqual(state.topics["orders"]?.partitions, 3)
        XCTAssertThrowsError(try state.validate(create)) { XCTAssertEqual(($0 as? MetadataError)?.code, .topicExists) }
        state.apply(.topicDeleted(name: "orders"))
        XCTAssertNil(state.topics["orders"])
        XCTAssertEqual(state.appliedCount, 2)
    }

    func testBadTopicsAreRefusedWithTheReason() {
        let state = MetadataState()
        for name in ["", ".", "..", "has space", "__internal", String(repeating: "x", count: 250), "ünïcode"] {
            XCTAssertThrowsError(try state.validate(.topicCreated(name: name, configuration: TopicConfiguration(partitions: 1))), name) {
                XCTAssertEqual(($0 as? MetadataError)?.code, .invalidTopicName, name)
            }
        }
        XCTAssertThrowsError(try state.validate(.topicCreated(name: "t", configuration: TopicConfiguration(partitions: 0)))) {
            XCTAssertTrue(($0 as? MetadataError)?.message.contains("partitions must be") ?? false)
        }
        XCTAssertThrowsError(try state.validate(.topicDeleted(name: "missing"))) {
            XCTAssertEqual(($0 as? MetadataError)?.code, .unknownTopic)
        }
    }

    func testReplayingTheSameRecordsGivesTheSameState() {
        let records: [MetadataRecord] = [
            .topicCreated(name: "a", configuration: TopicConfiguration(partitions: 2)),
            .topicCreated(name: "b", configuration: TopicConfiguration(partitions: 5, compacted: true)),
            .topicDeleted(name: "a"),
            .topicCreated(name: "a", configuration: TopicConfiguration(partitions: 7)),
            .topicCreated(name: "a", configuration: TopicConfiguration(partitions: 9)),  // refused: ignored on replay
        ]
        var first = MetadataState(), second = MetadataState()
        for record in records { first.apply(record) }
        for record in records { second.apply(record) }
        XCTAssertEqual(first, second)
        XCTAssertEqual(first.topics["a"]?.partitions, 7)
    }

    func testGroupAssignmentsOnlyMoveForward() throws {
        var state = MetadataState()
        let first = GroupAssignment(epoch: 3, members: ["m-1": [TopicPartition("orders", 0), TopicPartition("orders", 1)]])
        try state.validate(.groupAssignment(group: "billing", assignment: first))
        state.apply(.groupAssignment(group: "billing", assignment: first))
        XCTAssertEqual(state.groupAssignments["billing"], first)
        let stale = GroupAssignment(epoch: 3, members: [:])
        XCTAssertThrowsError(try state.validate(.groupAssignment(group: "billing", assignment: stale)))
        state.apply(.groupAssignment(group: "billing", assignment: stale))
        XCTAssertEqual(state.groupAssignments["billing"], first, "a stale assignment is ignored on replay")
        let decoded = try JSONDecoder().decode(MetadataRecord.self, from: JSONEncoder().encode(MetadataRecord.groupAssignment(group: "billing", assignment: first)))
        XCTAssertEqual(decoded, .groupAssignment(group: "billing", assignment: first))
    }
}
