import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire

/// The agent runtime's figures: events/s through a trivial agent (a state update and one emit
/// per event, each made durable as a changelog batch), a bare group consumer over the same events
/// for the runtime's overhead, and handler-start latency from publish at a low rate.
struct AgentBenchmark {
    let api: String
    let events: Int
    /// Keys the events are spread over (one hot key at 1).
    var keys = 256
    /// The node, when it runs in this process: the agent's shards then use its logs directly.
    var node: Node? = nil

    /// Counts and emits; records how long after publishing each event its handler started. A
    /// timed event's emitted event carries its send time on (the reaction's end to end).
    struct TrivialAgent: Agent {
        struct State: Codable, Sendable { var count = 0 }
        let name: String
        let subscription: AgentSubscription
        let latencies: LatencySamples

        func handle(_ context: AgentContext<State>) async throws {
            let timed = context.event.type == "timed"
            if timed, let sent = LatencySamples.sentTime(of: context.event) {
                await latencies.add(Double(DispatchTime.now().uptimeNanoseconds - sent) / 1000)
            }
            context.state = State(count: (context.state?.count ?? 0) + 1)
            context.emit(topic: "\(name).out", type: timed ? "timed" : "counted", data: timed ? context.event.data : Data(String(context.state!.count).utf8))
        }
    }

    func run() async throws -> [String] {
        let client = try GanglionClient(endpoint: api, timeout: .seconds(30))
        defer { client.close() }
        let run = UUID().uuidString.prefix(6).lowercased()
        let input = "bench-agents-\(run)", name = "bench-agent-\(run)"
        try await client.createTopic(input, partitions: 4)
        try await client.createTopic("\(name).out", partitions: 1)
        let producer = try await Producer(client: client)
        for index in 0..<events {
            var event = EventEnvelope()
            event.id = "e-\(index)"
            event.type = "bench"
            event.key = Data("k\(index % max(1, keys))".utf8)
            try await producer.enqueue(topic: input, key: Array(event.key), value: try event.serializedBytes())
        }
        try await producer.flush()

        // A bare group consumer over the same events, committing each batch.
        let bareStart = ContinuousClock.now
        let consumer = GroupConsumer(client: try GanglionClient(endpoint: api), group: "bench-bare-\(run)", topics: [input])
        var read = 0
        for try await batch in consumer.batches {
            if let last = batch.last { try await consumer.commit(last) }
            read += batch.count
            if read >= events { break }
        }
        let bare = Double(events) / ((ContinuousClock.now - bareStart) / .seconds(1))
        await consumer.close()

        // The same durable work by hand, no runtime: the floor under the agent.
        let floor = try await AgentFloorBenchmark(api: api, node: node).run(input: input, events: events, run: run)

        // The agent over the same events, until its group committed them all.
        let latencies = LatencySamples()
        let agent = TrivialAgent(name: name, subscription: try AgentSubscription(topic: input), latencies: latencies)
        var shardIO: (@Sendable (String) -> any ShardIO)?
        if let node { shardIO = { changelogTopic in NodeShardIO(node: node, changelogTopic: changelogTopic) } }
        let agentHost = AgentHost(client: try GanglionClient(endpoint: api), shardIO: shardIO)
        // Its topics are made before the clock starts, as the hand loop's are: deploying an agent
        // type is not part of its throughput.
        try await agentHost.createTopics(for: agent)
        let agentStart = ContinuousClock.now, cpuStart = Self.processCPUSeconds(), machineStart = ReplicationBenchmark.machineCPU().busy
        let host = Task { try await agentHost.run(agent) }
        defer { host.cancel() }
        while try await client.describeGroup(name).lag.reduce(Int64(0), { $0 + $1.committedOffset }) < Int64(events) {
            try await Task.sleep(for: .milliseconds(5))
        }
        let throughput = Double(events) / ((ContinuousClock.now - agentStart) / .seconds(1))
        let cpuPerEvent = (Self.processCPUSeconds() - cpuStart) / Double(events) * 1_000_000
        let machinePerEvent = (ReplicationBenchmark.machineCPU().busy - machineStart) / Double(events) * 1_000_000

        // Handler-start latency at 200 events/s for 3 s, once caught up, and the reaction's: each
        // timed event's emitted event read from the output topic's live stream.
        let reactions = LatencySamples()
        let outClient = try GanglionClient(endpoint: api)
        defer { outClient.close() }
        let outEnd = try await client.listOffsets(topic: "\(name).out", partitions: [0], timestamp: -1).first?.offset ?? 0
        let outStream = try PartitionStream(client: outClient, pubEndpoint: try await client.metadata(topics: [input]).nodes[0].pubEndpoint,
                                            topic: "\(name).out", partition: 0, from: outEnd)
        defer { outStream.close() }
        let outReader = Task {
            var records = outStream.records().makeAsyncIterator()
            while let batch = try await records.nextBatch() {
                if await reactions.add(sentIn: batch, type: "timed") >= 600 { break }
            }
        }
        try await publishTimed(client: client, topic: input)
        for _ in 0..<200 {
            if await latencies.count >= 600, await reactions.count >= 600 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        outReader.cancel()
        let (p50, p99) = Self.percentiles(await latencies.sorted)
        let reactionSamples = await reactions.sorted
        let (reactionP50, reactionP99) = Self.percentiles(reactionSamples)
        host.cancel()

        // The same timed events through a bare group consumer: its end-to-end latency.
        let bareTopic = "bench-bare-\(run)"
        try await client.createTopic(bareTopic, partitions: 4)
        let bareLatencies = LatencySamples()
        let timed = GroupConsumer(client: try GanglionClient(endpoint: api), group: "bench-bare-timed-\(run)", topics: [bareTopic])
        let reader = Task {
            for try await batch in timed.batches {
                if await bareLatencies.add(sentIn: batch) >= 600 { break }
            }
        }
        // Timed events only once the consumer holds every partition (none published before is missed).
        for _ in 0..<250 where await timed.assignment.count < 4 { try await Task.sleep(for: .milliseconds(20)) }
        try await publishTimed(client: client, topic: bareTopic)
        for _ in 0..<200 where await bareLatencies.count < 600 { try await Task.sleep(for: .milliseconds(20)) }
        reader.cancel()
        await timed.close()
        let (bareP50, bareP99) = Self.percentiles(await bareLatencies.sorted)
        let ratio = throughput / max(bare, 1), startRatio = p50 / max(bareP50, 1)
        // The hand loop's work with every core doing nothing else: the most events/s this
        // durable work allows on this machine, whatever runs it (the goal's floor).
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let ceiling = Double(cores) / max(floor.machinePerEvent, 0.001) * 1_000_000
        return [
            "  agent (state update + emit, 4 shards, \(keys) keys): \(Int(throughput)) events/s per node, \(Int(throughput / 4)) per shard",
            "  CPU time of this process per event handled: \(String(format: "%.1f", cpuPerEvent)) µs\(node == nil ? " (the agent's side; the node runs in its own process)" : " (agent and node)")",
            "  bare group consumer, same events: \(Int(bare)) events/s",
            "  agent / bare consumer events/s: \(String(format: "%.3f", ratio))× (goal ≥ 0.1×)",
            "  the same durable work by hand, one batch at a time (decode, JSON state, changelog batch, emit, tombstones, commit; no runtime): "
                + "\(Int(floor.throughput)) events/s, CPU time \(String(format: "%.1f", floor.cpuPerEvent)) µs per event",
            "  by hand / bare consumer events/s: \(String(format: "%.3f", floor.throughput / max(bare, 1)))× (one batch at a time); agent / by hand: "
                + "\(String(format: "%.2f", throughput / max(floor.throughput, 1)))× events/s, \(String(format: "%.2f", cpuPerEvent / max(floor.cpuPerEvent, 0.001)))× CPU per event",
            "  CPU time of the whole machine per event (every process, the node's included): agent \(String(format: "%.1f", machinePerEvent)) µs, "
                + "by hand \(String(format: "%.1f", floor.machinePerEvent)) µs",
            "  the work by hand on all \(cores) cores with nothing else running (its CPU-bound ceiling): \(Int(ceiling)) events/s, "
                + "\(String(format: "%.3f", ceiling / max(bare, 1)))× the bare consumer",
            "  handler start after publish at 200 events/s: p50 \(Int(p50)) µs, p99 \(Int(p99)) µs",
            "  its emitted event on the output topic's stream after publish (the reaction): "
                + (reactionSamples.isEmpty ? "none seen within 4 s" : "p50 \(Int(reactionP50)) µs, p99 \(Int(reactionP99)) µs (\(reactionSamples.count) events)"),
            "  bare consumer end to end, same rate: p50 \(Int(bareP50)) µs, p99 \(Int(bareP99)) µs",
            "  handler start p50 / bare consumer p50: \(String(format: "%.2f", startRatio))× (goal ≤ 1.5×)",
        ]
    }

    /// 600 events at 200/s, each carrying when it was sent, straight to its partition (no
    /// producer linger in the measured path).
    private func publishTimed(client: GanglionClient, topic: String) async throws {
        for index in 0..<600 {
            var event = EventEnvelope()
            event.id = "t-\(index)"
            event.type = "timed"
            event.key = Data("k\(index % 256)".utf8)
            event.data = Data(String(DispatchTime.now().uptimeNanoseconds).utf8)
            var batch = RecordBatchBuilder()
            batch.append(key: Array(event.key), value: try event.serializedBytes(), timestamp: 1)
            let partition = UInt32(KeyPartitioner.partition(for: Array(event.key), partitionCount: 4))
            try await client.produce(topic: topic, partition: partition, batch: batch.build())
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The CPU time this process has used, all threads (s).
    static func processCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// The median and 99th percentile of sorted samples (0 without any).
    static func percentiles(_ samples: [Double]) -> (p50: Double, p99: Double) {
        guard !samples.isEmpty else { return (0, 0) }
        return (samples[samples.count / 2], samples[min(samples.count - 1, samples.count * 99 / 100)])
    }
}

/// Latency samples from handlers (µs).
actor LatencySamples {
    private var samples: [Double] = []
    func add(_ sample: Double) { samples.append(sample) }

    /// Adds, as of now, the latency of every event in `batch` (of `type`, when given) that carries
    /// its send time; returns how many samples there are.
    func add(sentIn batch: [DeliveredRecord], type: String? = nil) -> Int {
        let now = DispatchTime.now().uptimeNanoseconds
        for delivered in batch {
            guard let value = delivered.record.value, let event = try? EventEnvelope(serializedBytes: value),
                  type.map({ event.type == $0 }) ?? true, let sent = Self.sentTime(of: event) else { continue }
            samples.append(Double(now - sent) / 1000)
        }
        return samples.count
    }

    /// The send time (`DispatchTime` nanoseconds) a timed event carries as its data.
    nonisolated static func sentTime(of event: EventEnvelope) -> UInt64? { UInt64(String(decoding: event.data, as: UTF8.self)) }
    var count: Int { samples.count }
    var sorted: [Double] { samples.sorted() }
}
