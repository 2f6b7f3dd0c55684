import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// A produce whose producer id or epoch this node's copy of the metadata does not hold: the
/// controller leader knows every id issued, so it refuses the batch as never issued; any other
/// node may only lag the controller (a rolling restart, an election), so after waiting it answers
/// with a retriable error that says so — a producer retries instead of failing its send.
final class ProducerMetadataLagTests: XCTestCase {
    /// Three voters, started, agreed on a leader and ready; stopped and removed after `body`.
    private func withReadyCluster(_ body: (TestCluster, _ leader: String) async throws -> Void) async throws {
        let root = NSTemporaryDirectory() + "ganglion-producer-lag-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cluster = try TestCluster(voters: 3, root: root)
        defer { cluster.stopAll() }
        let leader = try await cluster.agreedLeader()
        try await cluster.waitForAll("every node is ready") { $0.readiness.ready }
        try await body(cluster, leader)
    }

    /// A producer's read of a topic's partitions that gets no answer (its node restarting, as in
    /// a rolling restart) is asked again, as a produce is resent: the read changes nothing, and the
    /// send goes on instead of failing before anything was sent — which a caller would take for
    /// an unknown outcome and not repeat (`ganglion publish` does).
    func testAPartitionReadThatGetsNoAnswerIsAskedAgain() async throws {
        let root = NSTemporaryDirectory() + "ganglion-producer-restart-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cluster = try TestCluster(voters: 1, root: root)
        defer { cluster.stopAll() }
        _ = try await cluster.agreedLeader()
        try await cluster.waitForAll("the node is ready") { $0.readiness.ready }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .milliseconds(400))
        defer { client.close() }
        try await client.createTopic("restarting", partitions: 2)
        var configuration = ProducerConfiguration()
        configuration.maxAttempts = 40
        let producer = try await Producer(client: client, configuration: configuration)

        cluster.stop("v1")
        // The topic's partitions are not known to the producer yet: its first send reads them.
        let sent = Task { try await producer.send(topic: "restarting", key: Array("k".utf8), value: Array("v".utf8)) }
        try await Task.sleep(for: .milliseconds(900))  // more than two of the client's timeouts
        try cluster.start("v1")
        let stored = try await sent.value
        XCTAssertEqual(stored.topic, "restarting")
    }

    func testAProducerUnknownToANodeThatMayLagIsRetriableAndDefinitiveOnTheLeader() async throws {
        try await withReadyCluster { cluster, leader in
            let follower = cluster.voterIDs.first { $0 != leader }!
            XCTAssertEqual(try NodeTests.Client(cluster.api(leader)).createTopic("lag", partitions: 1).error, .none)
            try await cluster.waitForAll("the topic is known") { $0.metadataState.topics["lag"] != nil }

            var builder = RecordBatchBuilder()
            builder.producerID = 987_654
            builder.producerEpoch = 0
            builder.baseSequence = 0
            builder.append(key: Array("k".utf8), value: Array("v".utf8), timestamp: 1_000)
            let batch = builder.build()

            let lagging = try NodeTests.Client(cluster.api(follower)).produce("lag", partition: 0, batch: batch).0
            XCTAssertEqual(lagging.error, .timeout, "a node that may lag the controller answers retriably: \(lagging.errorMessage)")
            XCTAssertTrue(lagging.errorMessage.contains("987654") && lagging.errorMessage.contains("lag"), lagging.errorMessage)

            let definitive = try NodeTests.Client(cluster.api(leader)).produce("lag", partition: 0, batch: batch).0
            XCTAssertEqual(definitive.error, .invalidProducerEpoch, definitive.errorMessage)
            XCTAssertTrue(definitive.errorMessage.contains("never issued"), definitive.errorMessage)
        }
    }

    /// A producer asking for its id while the controller it asked shuts down (a rolling restart)
    /// hears "shutting down; the write may or may not be applied". Asking again is safe (at worst
    /// an id is issued twice and the first never used), so the client asks again once the
    /// cluster is back instead of failing the producer's start.
    func testAProducerIdAskedAsTheControllerShutsDownIsAskedAgain() async throws {
        try await withReadyCluster { cluster, leader in
            // Without a quorum the leader's write waits; then the leader stops gracefully.
            let others = cluster.voterIDs.filter { $0 != leader }
            for id in others { cluster.kill(id) }
            let client = try GanglionClient(endpoint: cluster.api(leader), timeout: .seconds(20))
            defer { client.close() }
            let asked = Task { try await client.initProducerID() }
            try await Task.sleep(for: .milliseconds(300))
            let stopped = ContinuousClock.now
            cluster.stop(leader)
            for id in cluster.voterIDs { try cluster.start(id) }
            let issued = try await asked.value
            print("the producer id came \(ContinuousClock.now - stopped) after its controller stopped")
            XCTAssertGreaterThan(issued.id, 0)
        }
    }
}
