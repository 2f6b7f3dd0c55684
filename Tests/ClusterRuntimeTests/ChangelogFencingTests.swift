import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
@testable import Ganglion
import GanglionWire
import XCTest

/// Counts events per key.
private struct ItemCounter: Agent {
    struct State: Codable, Sendable { var count = 0 }
    let name = "items-counter"
    let subscription = try! AgentSubscription(topic: "items")

    func handle(_ context: AgentContext<State>) async throws {
        context.state = State(count: (context.state?.count ?? 0) + 1)
    }
}

/// A shard's changelog has one writer: a new owner bumps the writer's epoch when it takes the
/// shard, and the log refuses the previous owner's batches from then on (a zombie that missed its
/// revocation fails instead of writing under the new owner).
final class ChangelogFencingTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-fencing-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func item(_ id: String, offset: Int64) throws -> ShardInput {
        var event = EventEnvelope()
        event.id = id
        event.type = "item"
        event.key = Data("k".utf8)
        return ShardInput(topic: "items", offset: offset, value: try event.serializedBytes())
    }

    func testANewOwnerFencesThePreviousWriter() async throws {
        try await fencing(inNode: false)
    }

    func testANewOwnerFencesThePreviousWriterOnTheNodesLogs() async throws {
        try await fencing(inNode: true)
    }

    private func fencing(inNode: Bool) async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        let changelog = AgentHost.changelogTopic("items-counter", topic: "items")
        try await client.createTopic("items", partitions: 1)
        try await client.createTopic(changelog, partitions: 1, compacted: true)
        let producer = try await Producer(client: client)
        let failures = FailureBox()
        let handler = AgentShardHandler(agent: ItemCounter(), client: client, codecs: RegistryCodecs(client: client))
        let io: any ShardIO = inNode ? NodeShardIO(node: node, changelogTopic: changelog)
            : ClientShardIO(client: client, producer: producer, changelogTopic: changelog)
        func shard() -> AgentShard {
            AgentShard(handler: handler, io: io, partition: 0, capacity: 8, maxConcurrent: 1) { _ = failures.set($0) }
        }
        let old = shard()
        try await old.recover()
        try await old.submit(try item("e0", offset: 0))
        for _ in 0..<100 where await old.committableOffset < 1 { try await Task.sleep(for: .milliseconds(10)) }
        let handled = await old.committableOffset
        XCTAssertEqual(handled, 1)

        // A new owner takes the shard while the old one still runs.
        let new = shard()
        try await new.recover()
        let recovered = await new.changelog.states["k"]
        XCTAssertEqual(recovered.map { String(decoding: $0, as: UTF8.self) }, "{\"count\":1}")
        try await old.submit(try item("e1", offset: 1))
        for _ in 0..<100 where failures.error == nil { try await Task.sleep(for: .milliseconds(10)) }
        let error = try XCTUnwrap(failures.error, "the old owner's write is refused")
        XCTAssertEqual((error as? GanglionError)?.code ?? (error as? NodeError)?.code, .invalidProducerEpoch, "\(error)")
        let stuck = await old.committableOffset
        XCTAssertEqual(stuck, 1, "the refused event stays unfinished")

        // The new owner handles it, once.
        try await new.submit(try item("e1", offset: 1))
        for _ in 0..<100 where await new.committableOffset < 2 { try await Task.sleep(for: .milliseconds(10)) }
        let records = try await client.readAll(topic: changelog)
        var replayed = ShardChangelog()
        replayed.apply(records.map { ShardChangelog.Record(key: $0.key ?? [], value: $0.value, offset: $0.offset) })
        XCTAssertEqual(replayed.states["k"].map { String(decoding: $0, as: UTF8.self) }, "{\"count\":2}")
        XCTAssertEqual(replayed.nextOffset, 2)
        await old.stop()
        await new.stop()
    }
}
