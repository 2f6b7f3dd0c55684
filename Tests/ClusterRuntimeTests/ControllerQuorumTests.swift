import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// A controller quorum of real nodes in one process over loopback sockets: election, writes
/// through any node, failover, catching up, observers, registration and fencing, no quorum.
/// (The same scenarios with separate processes, kill -9, pauses and partitions are in `cluster/`.)
final class ControllerQuorumTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-quorum-\(UUID().uuidString)"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testThreeVotersAndAnObserverAgreeAndTakeWritesThroughAnyNode() async throws {
        let cluster = try TestCluster(voters: 3, observers: 1, root: directory)
        defer { cluster.stopAll() }
        let leader = try await cluster.agreedLeader()
        XCTAssertTrue(cluster.voterIDs.contains(leader))
        try await cluster.waitForAll("every node registered") { $0.metadataState.nodes.count == 4 }
        // A write sent to the observer is forwarded to the leader; every node applies it.
        let client = try GanglionClient(endpoint: cluster.api("o1"), timeout: .seconds(10))
        defer { client.close() }
        _ = try await client.createTopic("orders", partitions: 3)
        try await cluster.waitForAll("topic orders applied") { $0.metadataState.topics["orders"]?.partitions == 3 }
        // Refusals come back through the forwarding too.
        do {
            _ = try await client.createTopic("orders", partitions: 1)
            XCTFail("a second create of the same topic must be refused")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .topicExists)
        }
        // Every node registers; the status agrees everywhere.
        try await cluster.waitForAll("all four nodes registered alive") { node in
            node.metadataState.nodes.count == 4 && node.metadataState.nodes.values.allSatisfy { $0.state == .alive }
        }
        for id in cluster.ids {
            let status = try await GanglionClient(endpoint: cluster.api(id)).clusterStatus()
            XCTAssertEqual(status.controller.leader, leader, "node \(id)")
            XCTAssertEqual(status.controller.voters, cluster.voterIDs)
            XCTAssertEqual(status.nodes.map(\.id), ["o1", "v1", "v2", "v3"])
            XCTAssertEqual(status.nodes.first { $0.id == "o1" }?.voter, false)
        }
    }

    func testANodeIsReadyOnceItKnowsALeaderAndIsRegisteredAlive() async throws {
        let single = try startTestNode(directory + "/single")
        XCTAssertTrue(single.readiness.ready, "a single node is ready at once")
        single.stop()
        let cluster = try TestCluster(voters: 3, root: directory)
        defer { cluster.stopAll() }
        cluster.stop("v2")
        cluster.stop("v3")
        try await Task.sleep(for: .seconds(1))
        let alone = try XCTUnwrap(cluster.nodes["v1"]).readiness
        XCTAssertFalse(alone.ready, "one voter of three has no leader: \(alone.reason)")
        try cluster.start("v2")
        try await cluster.waitForAll("both running voters ready") { $0.readiness.ready }
    }

    func testAQuorumOfOneVoterTakesObserversThatJoinLater() async throws {
        // `--voters` naming only the node itself: a cluster that starts with one node and grows.
        let cluster = try TestCluster(voters: 1, observers: 1, root: directory)
        defer { cluster.stopAll() }
        cluster.stop("o1")
        let leader = try await cluster.agreedLeader()
        XCTAssertEqual(leader, "v1")
        try cluster.start("o1")
        try await cluster.waitForAll("the observer registered alive") { $0.metadataState.nodes["o1"]?.state == .alive }
        let client = try GanglionClient(endpoint: cluster.api("o1"), timeout: .seconds(10))
        defer { client.close() }
        _ = try await client.createTopic("grown", partitions: 2)
        try await cluster.waitForAll("the topic placed over both nodes") { node in
            Set((node.metadataState.partitions["grown"] ?? []).flatMap(\.replicas)) == ["v1", "o1"]
        }
    }

    func testANewLeaderTakesOverAndTheOldOneCatchesUpWhenItReturns() async throws {
        let cluster = try TestCluster(voters: 3, root: directory) { $0.controller.nodeSessionTimeout = .seconds(2) }
        defer { cluster.stopAll() }
        let first = try await cluster.agreedLeader()
        try await cluster.waitForAll("every node registered") { $0.metadataState.nodes.count == 3 }
        let survivor = cluster.voterIDs.first { $0 != first }!
        let client = try GanglionClient(endpoint: cluster.api(survivor), timeout: .seconds(10))
        defer { client.close() }
        _ = try await client.createTopic("before", partitions: 1)
        cluster.stop(first)
        let second = try await cluster.agreedLeader()
        XCTAssertNotEqual(second, first)
        _ = try await client.createTopic("during", partitions: 1)
        // The stopped node left gracefully: recorded as shut down, not fenced.
        try await cluster.waitForAll("the old leader recorded as shut down") { $0.metadataState.nodes[first]?.state == .shutdown }
        try cluster.start(first)
        try await cluster.waitForAll("the returning node caught up") { node in
            // (The cluster's own __consumer_offsets aside.)
            Set(node.metadataState.topics.keys.filter { !$0.hasPrefix("__") }) == ["before", "during"] && node.metadataState.nodes[first]?.state == .alive
        }
    }

    func testWithoutAQuorumAWriteFailsClearlyAndNothingIsApplied() async throws {
        let cluster = try TestCluster(voters: 3, root: directory) { $0.controller.commitTimeout = .seconds(2) }
        defer { cluster.stopAll() }
        let leader = try await cluster.agreedLeader()
        let others = cluster.voterIDs.filter { $0 != leader }
        // The leader alone: check-quorum makes it step down within an election timeout, after
        // which a write fails at once with NOT_CONTROLLER: never applied, here or anywhere.
        for id in others { cluster.stop(id) }
        let deadline = Date(timeIntervalSinceNow: 10)
        while cluster.nodes[leader]!.controllerView.isLeader, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertFalse(cluster.nodes[leader]!.controllerView.isLeader, "a leader without a quorum must step down")
        let client = try GanglionClient(endpoint: cluster.api(leader), timeout: .seconds(4))
        defer { client.close() }
        let started = ContinuousClock.now
        do {
            _ = try await client.createTopic("lonely", partitions: 1)
            XCTFail("a write without a quorum must fail")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .notController, "\(error)")
            XCTAssertTrue(error.message.contains("no controller leader"), error.message)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(6))
        XCTAssertNil(cluster.nodes[leader]!.metadataState.topics["lonely"])
        // The others return: nobody ever applied the refused write, and writes work again.
        for id in others { try cluster.start(id) }
        _ = try await cluster.agreedLeader()
        let again = try GanglionClient(endpoint: cluster.api(others[0]), timeout: .seconds(10))
        defer { again.close() }
        _ = try await again.createTopic("later", partitions: 1)
        try await cluster.waitForAll("the later topic applied") { $0.metadataState.topics["later"] != nil }
        for node in cluster.nodes.values { XCTAssertNil(node.metadataState.topics["lonely"]) }
    }

    func testAFollowerFarBehindCatchesUpFromASnapshot() async throws {
        let cluster = try TestCluster(voters: 3, observers: 1, root: directory) { $0.controller.snapshotEvery = 20 }
        defer { cluster.stopAll() }
        let leader = try await cluster.agreedLeader()
        // Topics are placed on registered nodes: the survivors register first.
        try await cluster.waitForAll("every node registered") { $0.metadataState.nodes.count == 4 }
        let behind = cluster.voterIDs.first { $0 != leader }!
        cluster.stop(behind)
        cluster.stop("o1")
        let client = try GanglionClient(endpoint: cluster.api(leader), timeout: .seconds(10))
        defer { client.close() }
        for index in 0..<60 { _ = try await client.createTopic("t\(index)", partitions: 1) }
        try cluster.start(behind)
        try cluster.start("o1")
        try await cluster.waitForAll("every node holds the 60 topics") { $0.metadataState.topics.keys.filter { !$0.hasPrefix("__") }.count == 60 }
    }
}
