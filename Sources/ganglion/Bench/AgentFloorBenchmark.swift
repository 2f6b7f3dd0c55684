import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire

/// The trivial agent's durable work written by hand over a group consumer, with no runtime: per
/// fetched batch, each event decoded, its key's count updated and stored as JSON, one event
/// emitted; one changelog batch per partition in ``ShardChangelog``'s layout (state, handled id
/// and outbox records, an offset record), the emitted events appended, the outbox entries
/// tombstoned, the offsets committed.
/// Nothing runs concurrently and no handler can fail, time out or be retried: it is what the
/// work costs with no runtime at all, the floor under ``AgentBenchmark``'s agent.
struct AgentFloorBenchmark {
    let api: String
    /// Events worked as one unit at most: at this benchmark's sizes (~30 bytes in, 120 emitted,
    /// ~300 of changelog per event) its batches stay near 1 MiB, the runtime's changelog batch.
    static let sliceEvents = 4096
    /// The node, when it runs in this process: appends then go straight to its logs, as the
    /// agent's shards do there.
    var node: Node?

    /// Events/s over the first `events` events of `input` (4 partitions), this process's CPU time
    /// per event and the whole machine's (every process: this one, the node, anything else; µs).
    /// Batches are worked one at a time, each waiting for the node's durability: the events/s are
    /// bound by that wait, the CPU time is the floor.
    func run(input: String, events: Int, run: String) async throws -> (throughput: Double, cpuPerEvent: Double, machinePerEvent: Double) {
        let client = try GanglionClient(endpoint: api, timeout: .seconds(30))
        defer { client.close() }
        let changelog = "bench-floor-\(run).changelog", output = "bench-floor-\(run).out"
        try await client.createTopic(changelog, partitions: 4)
        try await client.createTopic(output, partitions: 1)
        let changelogIO = node.map { NodeShardIO(node: $0, changelogTopic: changelog) }
        let outputIO = node.map { NodeShardIO(node: $0, changelogTopic: output) }
        func append(_ topic: String, _ partition: UInt32, _ batch: RecordBatchBuilder) async throws {
            let io = topic == output ? outputIO : changelogIO
            if let io {
                _ = try await io.appendChangelog(partition: partition, batch: batch.build())
            } else {
                _ = try await client.produce(topic: topic, partition: partition, batch: batch.build())
            }
        }
        let consumer = GroupConsumer(client: try GanglionClient(endpoint: api), group: "bench-floor-\(run)", topics: [input])
        var counts: [String: AgentBenchmark.TrivialAgent.State] = [:]
        let encoder = JSONEncoder()
        let start = ContinuousClock.now, cpuStart = AgentBenchmark.processCPUSeconds(), machineStart = ReplicationBenchmark.machineCPU().busy
        var done = 0
        func work(_ slice: ArraySlice<DeliveredRecord>) async throws {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            // Each partition's handled events in the changelog's own record layout (built from an
            // empty changelog: no handled-id window to evict from).
            var handled: [UInt32: [HandledEvent]] = [:], last: [UInt32: DeliveredRecord] = [:]
            var emitted = RecordBatchBuilder()
            for consumed in slice {
                let partition = consumed.partition
                last[partition] = consumed
                guard let value = consumed.record.value, let event = try? EventEnvelope(serializedBytes: value) else { continue }
                let key = String(decoding: event.key, as: UTF8.self)
                var state = counts[key] ?? .init()
                state.count += 1
                counts[key] = state
                // The envelope the runtime emits (derived id, CloudEvents attributes, causation and
                // correlation ids): the same bytes to store in the outbox and forward.
                let out = EmittedEvent.envelope(causedBy: event, agent: "bench-floor-\(run)", index: 0, type: "counted", key: event.key,
                                                data: Data(String(state.count).utf8), contentType: "application/json")
                let bytes: [UInt8] = try out.serializedBytes()
                let entry = OutboxEntry(id: out.id, topic: output, key: Array(event.key), event: bytes)
                handled[partition, default: []].append(HandledEvent(eventID: event.id, key: key, offset: consumed.record.offset,
                                                                    newState: .some(try StateJSONEncoder.encode(state) ?? [UInt8](encoder.encode(state))), emitted: [entry]))
                emitted.append(key: Array(event.key), value: bytes, timestamp: now)
            }
            func builder(_ records: [ShardChangelog.Record]) -> RecordBatchBuilder {
                var builder = RecordBatchBuilder()
                for record in records { builder.append(key: record.key, value: record.value, timestamp: now) }
                return builder
            }
            // The changelog batches, then the emitted events, then the tombstones (each set
            // appended at once, waiting for the node's durability once).
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (partition, partitionEvents) in handled {
                    let batch = builder(ShardChangelog().records(for: partitionEvents, committableOffset: last[partition]!.record.offset + 1))
                    group.addTask { try await append(changelog, partition, batch) }
                }
                try await group.waitForAll()
            }
            if emitted.count > 0 { try await append(output, 0, emitted) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (partition, partitionEvents) in handled {
                    let batch = builder(ShardChangelog().forwardedRecords(ids: partitionEvents.flatMap { $0.emitted.map(\.id) }))
                    group.addTask { try await append(changelog, partition, batch) }
                }
                try await group.waitForAll()
            }
            for record in last.values { try await consumer.commit(record) }
        }
        for try await batch in consumer.batches {
            // Worked (and committed) in slices of at most `sliceEvents`, as the runtime bounds its
            // changelog batches: a whole fetch at once (tens of thousands of events) built batches
            // beyond the log's 8 MiB limit.
            for sliceStart in stride(from: batch.startIndex, to: batch.endIndex, by: Self.sliceEvents) {
                try await work(batch[sliceStart..<min(sliceStart + Self.sliceEvents, batch.endIndex)])
            }
            done += batch.count
            if done >= events { break }
        }
        let throughput = Double(events) / ((ContinuousClock.now - start) / .seconds(1))
        let cpuPerEvent = (AgentBenchmark.processCPUSeconds() - cpuStart) / Double(events) * 1_000_000
        let machinePerEvent = (ReplicationBenchmark.machineCPU().busy - machineStart) / Double(events) * 1_000_000
        await consumer.close()
        return (throughput, cpuPerEvent, machinePerEvent)
    }
}
