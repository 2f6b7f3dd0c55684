import ClusterCore
import XCTest

/// The metadata rules for nodes: registration, re-registration, fencing and graceful shutdown.
final class NodeMembershipTests: XCTestCase {
    private func node(_ id: String = "n1", incarnation: UInt64 = 1, api: String = "tcp://10.0.0.1:7400") -> ClusterNode {
        ClusterNode(id: id, incarnation: incarnation, voter: true, api: api, pub: "tcp://10.0.0.1:7401", http: "")
    }

    private func applying(_ records: [MetadataRecord]) throws -> MetadataState {
        var state = MetadataState()
        for record in records {
            try state.validate(record)
            state.apply(record)
        }
        return state
    }

    func testARegisteredNodeIsAliveAndAHeartbeatThatChangesNothingIsRefused() throws {
        let state = try applying([.nodeRegistered(node())])
        XCTAssertEqual(state.nodes["n1"]?.state, .alive)
        XCTAssertThrowsError(try state.validate(.nodeRegistered(node())))
        // New endpoints or a new incarnation are recorded.
        XCTAssertNoThrow(try state.validate(.nodeRegistered(node(api: "tcp://10.0.0.9:7400"))))
        XCTAssertNoThrow(try state.validate(.nodeRegistered(node(incarnation: 2))))
    }

    func testAnOlderIncarnationCannotReplaceANewerOne() throws {
        let state = try applying([.nodeRegistered(node(incarnation: 5))])
        XCTAssertThrowsError(try state.validate(.nodeRegistered(node(incarnation: 4)))) { error in
            XCTAssertTrue("\(error)".contains("older"), "\(error)")
        }
    }

    func testAFencedNodeIsUnfencedWhenItRegistersAgain() throws {
        var state = try applying([.nodeRegistered(node()), .nodeFenced(id: "n1", incarnation: 1)])
        XCTAssertEqual(state.nodes["n1"]?.state, .fenced)
        // Fencing twice, or fencing an incarnation that is not the registered one, is refused.
        XCTAssertThrowsError(try state.validate(.nodeFenced(id: "n1", incarnation: 1)))
        try state.validate(.nodeRegistered(node()))
        state.apply(.nodeRegistered(node()))
        XCTAssertEqual(state.nodes["n1"]?.state, .alive)
        XCTAssertThrowsError(try state.validate(.nodeFenced(id: "n1", incarnation: 7)))
    }

    func testAShutdownEndsTheSessionAndOnlyANewIncarnationComesBack() throws {
        let state = try applying([.nodeRegistered(node()), .nodeShutdown(id: "n1", incarnation: 1)])
        XCTAssertEqual(state.nodes["n1"]?.state, .shutdown)
        XCTAssertThrowsError(try state.validate(.nodeShutdown(id: "n1", incarnation: 1)))
        XCTAssertThrowsError(try state.validate(.nodeRegistered(node())), "the incarnation that left does not return")
        XCTAssertNoThrow(try state.validate(.nodeRegistered(node(incarnation: 2))))
        XCTAssertThrowsError(try state.validate(.nodeFenced(id: "unknown", incarnation: 1)))
    }

    func testAStateWrittenBeforeNodesWereRecordedStillDecodes() throws {
        let old = #"{"topics":{},"producerEpochs":[],"groupAssignments":{},"appliedCount":3}"#
        let state = try JSONDecoder().decode(MetadataState.self, from: Data(old.utf8))
        XCTAssertEqual(state.appliedCount, 3)
        XCTAssertTrue(state.nodes.isEmpty)
        let round = try JSONDecoder().decode(MetadataState.self, from: try JSONEncoder().encode(try applying([.nodeRegistered(node())])))
        XCTAssertEqual(round.nodes["n1"], node())
    }
}
