import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Consumer groups on a cluster (issue 18): each group is coordinated by the leader of the
/// replicated `__consumer_offsets` partition its name hashes to; requests reach it through any
/// node; when its node stops, the partition's next leader coordinates the group with every
/// committed offset intact.
final class GroupCoordinationTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-coordination-\(UUID().uuidString)" }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func cluster() async throws -> TestCluster { try await TestCluster.withGroups(root: directory) }

    private func coordinator(of group: String, on cluster: TestCluster) -> String? {
        cluster.nodes.values.first?.metadataState.partitions[GroupPlacement.offsetsTopic]?[Int(GroupPlacement.partition(of: group))].leader
    }

    func testAGroupIsCoordinatedOnItsOffsetsLeaderAndKeepsItsOffsetsWhenThatNodeStops() async throws {
        let cluster = try await cluster()
        defer { cluster.stopAll() }
        // A group coordinated by the controller leader's node: the node that served every group
        // before groups moved next to their offsets — and whose loss would have lost them.
        let controller = try await cluster.agreedLeader()
        let group = try XCTUnwrap((0..<200).map { "billing-\($0)" }.first { self.coordinator(of: $0, on: cluster) == controller })
        let coordinator = controller
        let others = cluster.voterIDs.filter { $0 != coordinator }
        // The consumer talks to a node that does not coordinate its group: requests are forwarded.
        let client = try GanglionClient(endpoint: cluster.api(others[0]), timeout: .seconds(15))
        defer { client.close() }
        _ = try await client.createTopic("orders", partitions: 2)
        let producer = try await Producer(client: client)
        for index in 0..<40 { try await producer.enqueue(topic: "orders", key: Array("k\(index)".utf8), value: Array("v\(index)".utf8)) }
        try await producer.flush()

        let consumer = GroupConsumer(client: try GanglionClient(endpoint: cluster.api(others[0]), timeout: .seconds(15)), group: group, topics: ["orders"])
        var read = 0
        for try await batch in consumer.batches {
            for record in batch { try await consumer.commit(record) }
            read += batch.count
            if read >= 40 { break }
        }
        await consumer.close()
        // Every node answers for the group (the coordinator itself, and through forwarding).
        var committed: [UInt32: Int64] = [:]
        for id in cluster.voterIDs {
            let viewer = try GanglionClient(endpoint: cluster.api(id), timeout: .seconds(10))
            defer { viewer.close() }
            let described = try await viewer.describeGroup(group)
            committed = Dictionary(uniqueKeysWithValues: described.lag.map { ($0.partition, $0.committedOffset) })
            XCTAssertEqual(committed.values.reduce(0, +), 40, "node \(id) sees every committed offset")
        }
        let listed = try await client.listGroups()
        XCTAssertEqual(listed.map(\.group), [group])

        // The coordinator's node stops: the offsets partition's next leader coordinates the group.
        let before = cluster.nodes.values.first!.metadataState.partitions[GroupPlacement.offsetsTopic]![Int(GroupPlacement.partition(of: group))]
        cluster.stop(coordinator)
        try await cluster.waitForAll("the group's offsets partition has a new leader") { node in
            let state = node.metadataState.partitions[GroupPlacement.offsetsTopic]?[Int(GroupPlacement.partition(of: group))]
            return state?.leader != nil && state?.leader != coordinator && (state?.leaderEpoch ?? 0) > before.leaderEpoch
        }
        let after = try await client.describeGroup(group)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: after.lag.map { ($0.partition, $0.committedOffset) }), committed,
                       "every committed offset survives the coordinator's node")
        // A member of the group resumes after them: nothing is read again.
        for index in 40..<44 { try await producer.enqueue(topic: "orders", key: Array("k\(index)".utf8), value: Array("v\(index)".utf8)) }
        try await producer.flush()
        let resumed = GroupConsumer(client: try GanglionClient(endpoint: cluster.api(others[1]), timeout: .seconds(15)), group: group, topics: ["orders"])
        var values: [String] = []
        for try await batch in resumed.batches {
            values += batch.map { String(decoding: $0.record.value ?? [], as: UTF8.self) }
            if values.count >= 4 { break }
        }
        await resumed.close()
        XCTAssertEqual(Set(values), Set((40..<44).map { "v\($0)" }))
    }

    /// A member follows a partition whose leader stops gracefully (its leadership moves to
    /// another replica): records written under the new leader keep coming, without a rebalance.
    func testAMemberKeepsReadingAPartitionWhoseLeaderStopsGracefully() async throws {
        let cluster = try await cluster()
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        _ = try await client.createTopic("steady", partitions: 1)
        try await cluster.waitForAll("steady placed") { $0.metadataState.partitions["steady"]?.first?.leader != nil }
        let leader = try XCTUnwrap(cluster.nodes["v1"]?.metadataState.partitions["steady"]?.first?.leader)
        let member = cluster.voterIDs.first { $0 != leader }!
        let writerNode = cluster.voterIDs.first { $0 != leader && $0 != member }!
        let writer = try GanglionClient(endpoint: cluster.api(writerNode), timeout: .seconds(15))
        defer { writer.close() }
        func write(_ values: Range<Int>) async throws {
            for index in values {
                var batch = RecordBatchBuilder()
                batch.append(key: nil, value: Array("v\(index)".utf8), timestamp: 0)
                _ = try await writer.produce(topic: "steady", partition: 0, batch: batch.build(), timeout: .seconds(15))
            }
        }
        try await write(0..<10)
        let consumer = GroupConsumer(client: try GanglionClient(endpoint: cluster.api(member), timeout: .seconds(15)), group: "steady-readers", topics: ["steady"])
        let reader = Task {
            var values: [String] = []
            for try await batch in consumer.batches {
                values += batch.map { String(decoding: $0.record.value ?? [], as: UTF8.self) }
                if values.count >= 20 { break }
            }
            return values
        }
        try await Task.sleep(for: .seconds(2))
        cluster.stop(leader)
        try await cluster.waitForAll("steady has a new leader") { node in
            let state = node.metadataState.partitions["steady"]?.first
            return state?.leader != nil && state?.leader != leader
        }
        try await write(10..<20)
        let watchdog = Task {
            try await Task.sleep(for: .seconds(15))
            reader.cancel()
        }
        let values = try? await reader.value
        watchdog.cancel()
        await consumer.close()
        XCTAssertEqual(values, (0..<20).map { "v\($0)" }, "the records written after the leader stopped reach the member")
    }

    /// Arrival times of streamed values.
    final class Arrivals: @unchecked Sendable {
        // Guarded by `lock`.
        private let lock = NSLock()
        private var times: [String: ContinuousClock.Instant] = [:]
        func note(_ value: String) { lock.withLock { times[value] = .now } }
        func time(_ value: String) -> ContinuousClock.Instant? { lock.withLock { times[value] } }
    }

    /// A partition stream whose leader moves follows the new leader's live stream: records keep
    /// arriving as they are written, not only at each poll for a gap.
    func testAStreamFollowsTheLiveStreamOfItsPartitionsNewLeader() async throws {
        let cluster = try await cluster()
        defer { cluster.stopAll() }
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        _ = try await client.createTopic("moving", partitions: 1)
        try await cluster.waitForAll("moving placed") { $0.metadataState.partitions["moving"]?.first?.leader != nil }
        let leader = try XCTUnwrap(cluster.nodes["v1"]?.metadataState.partitions["moving"]?.first?.leader)
        let other = cluster.voterIDs.first { $0 != leader }!
        let reader = try GanglionClient(endpoint: cluster.api(other), timeout: .seconds(15))
        defer { reader.close() }
        let pub = try await reader.leader(of: "moving", partition: 0).pub
        // Polls for gaps only every 2 s: a record that waits for a poll shows.
        let stream = try PartitionStream(client: reader, pubEndpoint: pub, topic: "moving", partition: 0, from: 0, pollInterval: .seconds(2))
        defer { stream.close() }
        let arrivals = Arrivals()
        let reading = Task {
            for try await delivered in stream.records() { arrivals.note(String(decoding: delivered.record.value ?? [], as: UTF8.self)) }
        }
        defer { reading.cancel() }
        cluster.stop(leader)
        try await cluster.waitForAll("moving has a new leader") { node in
            let state = node.metadataState.partitions["moving"]?.first
            return state?.leader != nil && state?.leader != leader
        }
        let writer = try GanglionClient(endpoint: cluster.api(other), timeout: .seconds(15))
        defer { writer.close() }
        func write(_ value: String) async throws -> ContinuousClock.Instant {
            var batch = RecordBatchBuilder()
            batch.append(key: nil, value: Array(value.utf8), timestamp: 0)
            _ = try await writer.produce(topic: "moving", partition: 0, batch: batch.build(), timeout: .seconds(15))
            return .now
        }
        // The first records show the stream where the leader went (one poll at most).
        _ = try await write("first")
        let settled = ContinuousClock.now + .seconds(10)
        while arrivals.time("first") == nil && ContinuousClock.now < settled { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .seconds(2.5))
        var latencies: [Double] = []
        for index in 0..<8 {
            let written = try await write("live-\(index)")
            let deadline = ContinuousClock.now + .seconds(5)
            while arrivals.time("live-\(index)") == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            latencies.append(((arrivals.time("live-\(index)") ?? .now) - written) / .seconds(1))
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertLessThan(latencies.max() ?? 99, 0.8, "records written after the leader moved waited for polls: \(latencies.map { Int($0 * 1000) }) ms")
    }

    /// When the coordinator's node goes, the partition's next leader knows the group's members
    /// and what each holds: they carry on with the same ids and partitions — nothing goes to a
    /// member that rejoined first while its owner still runs it.
    func testMembersKeepTheirPartitionsWhenTheCoordinatorMoves() async throws {
        let cluster = try await cluster()
        defer { cluster.stopAll() }
        let group = try XCTUnwrap((0..<200).map { "steady-\($0)" }.first { self.coordinator(of: $0, on: cluster) == "v3" })
        let client = try GanglionClient(endpoint: cluster.api("v1"), timeout: .seconds(15))
        defer { client.close() }
        _ = try await client.createTopic("work", partitions: 4)
        let consumers = ["v1", "v2"].map { id in
            GroupConsumer(client: try! GanglionClient(endpoint: cluster.api(id), timeout: .seconds(15)), group: group, topics: ["work"])
        }
        let readers = consumers.map { consumer in Task { for try await _ in consumer.batches {} } }
        defer { readers.forEach { $0.cancel() } }
        var before: [String: [UInt32]] = [:]
        for _ in 0..<400 {
            let described = try await client.describeGroup(group)
            before = Dictionary(uniqueKeysWithValues: described.members.map { ($0.memberID, $0.assigned.flatMap(\.partitions).sorted()) })
            if described.members.count == 2, described.members.allSatisfy({ $0.state == "stable" && $0.assigned.flatMap(\.partitions).count == 2 }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(before.values.map(\.count).sorted(), [2, 2])
        cluster.stop("v3")
        try await cluster.waitForAll("the group's offsets partition has a new leader") { node in
            let state = node.metadataState.partitions[GroupPlacement.offsetsTopic]?[Int(GroupPlacement.partition(of: group))]
            return state?.leader != nil && state?.leader != "v3"
        }
        // Several heartbeats later, the same members hold the same partitions.
        try await Task.sleep(for: .seconds(2))
        let after = try await client.describeGroup(group)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: after.members.map { ($0.memberID, $0.assigned.flatMap(\.partitions).sorted()) }), before,
                       "the members carried on with their partitions")
        for consumer in consumers { await consumer.close() }
    }
}
