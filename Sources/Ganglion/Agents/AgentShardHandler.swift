import ClusterCore
import ClusterRuntime
import Foundation
import GanglionWire

/// An ``Agent`` as the runtime's ``ShardHandler``: its subscription's types and filter (payload
/// fields of JSON or registry-protobuf payloads), and a handler run with an ``AgentContext`` over
/// the key's decoded state.
struct AgentShardHandler<A: Agent>: ShardHandler {
    let agent: A
    let client: GanglionClient
    let codecs: RegistryCodecs
    /// The states the handler left, decoded (the next event of the key skips decoding).
    let decoded = DecodedStates<A.State>()
    /// How its states are stored (``AgentStateCoding/encoder()``).
    let encodeState = AgentStateCoding<A.State>.encoder()

    var name: String { agent.name }
    var topic: String { agent.subscription.topic }
    var retryPolicy: RetryPolicy { agent.retryPolicy }

    func accepts(_ event: EventEnvelope) async throws -> Bool {
        let subscription = agent.subscription
        if !subscription.types.isEmpty && !subscription.types.contains(event.type) { return false }
        guard let filter = subscription.filter else { return true }
        // A protobuf payload is decoded through its registry schema (JSON ones as they are).
        let json = try await codecs.json(of: event)
        return filter.matches(EventFields(event, json: json).value(at:))
    }

    func handle(_ attempt: ShardAttempt) async throws -> ShardHandlerResult {
        let state = attempt.state.flatMap { bytes in decoded.state(of: attempt.key, storedAs: bytes) ?? AgentStateCoding<A.State>.decode(bytes) }
        let context = AgentContext<A.State>(agentName: agent.name, event: attempt.event, key: attempt.key, partition: attempt.partition,
                                            offset: attempt.offset, attempt: attempt.attempt, state: state, client: client, timer: attempt.timer)
        try await agent.handle(context)
        let newState: [UInt8]?? = try context.state.map { .some(try encodeState($0)) } ?? (attempt.state == nil ? nil : .some(nil))
        // Kept as the shard will store it; if the attempt's result is discarded, the shard's
        // bytes differ and the value is not used.
        decoded.keep(context.state, of: attempt.key, storedAs: newState ?? attempt.state)
        return ShardHandlerResult(newState: newState, emitted: context.emitted,
                                  outcome: Array(context.outcome), timerChanges: context.timerChanges)
    }
}

/// A shard's reads and writes over the node protocol: its changelog partition through the
/// client, emitted events through a batching ``Producer``.
struct ClientShardIO: ShardIO {
    let client: GanglionClient
    let producer: Producer
    let changelogTopic: String

    func readChangelog(partition: UInt32, from offset: Int64) async throws -> [ShardChangelog.Record] {
        try await client.readAll(topic: changelogTopic, partition: partition, from: offset)
            .map { ShardChangelog.Record(key: $0.key ?? [], value: $0.value, offset: $0.offset) }
    }

    func changelogRecords(partition: UInt32, at offset: Int64) async throws -> [ShardChangelog.Record] {
        let (_, bytes) = try await client.fetch(topic: changelogTopic, partition: partition, offset: offset, maxBytes: 256 << 10)
        return try PartitionStream.records(in: bytes, base: nil).filter { $0.offset >= offset }
            .map { ShardChangelog.Record(key: $0.key ?? [], value: $0.value, offset: $0.offset) }
    }

    func appendChangelog(partition: UInt32, batch: [UInt8]) async throws -> Int64 {
        // The batch carries the shard's writer id, epoch and sequence: sent again after its
        // partition's leader changed or the connection to it was lost, it is stored once (the
        // log answers a duplicate with its first offsets), so those do not fail the shard; a node
        // gone for longer (10 s) does.
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try await client.produce(topic: changelogTopic, partition: partition, batch: batch)
            } catch let error as GanglionError where Self.retriable.contains(error.code) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Changelog append failures that a resend of the same idempotent batch resolves.
    static let retriable: Set<Ganglion_V1_ErrorCode> = [.timeout, .notLeader, .fencedLeaderEpoch, .notEnoughReplicas]

    func initWriter(resuming producerID: Int64?) async throws -> (id: Int64, epoch: Int16) {
        try await client.initProducerID(resuming: producerID)
    }

    func send(_ events: [OutgoingEvent]) async throws {
        // In emitted order across topics: each run of consecutive events to one topic is
        // acknowledged before the next run is sent, so an event never lands after one it caused
        // elsewhere; within a run the producer batches per partition (a key's order kept).
        var runs: [[OutgoingEvent]] = []
        for event in events {
            if runs.last?.last?.topic == event.topic { runs[runs.count - 1].append(event) } else { runs.append([event]) }
        }
        var stored = 0
        for run in runs {
            let records = run.map { (topic: $0.topic, key: $0.key, value: Optional($0.value)) }
            do {
                try await producer.send(records)
            } catch let error as GanglionError where error.code == .unknownTopic && run.contains(where: \.createIfMissing) {
                // A shadow replay's topics are made on first use (only those may be missing).
                do { try await client.createTopic(run[0].topic, partitions: 1) } catch let error as GanglionError where error.code == .topicExists {}
                try await producer.send(records)
            } catch let error as GanglionError where error.code == .unknownTopic {
                throw ShardIOError.unknownTopic(run[0].topic, stored: stored)
            }
            stored += run.count
        }
    }
}
