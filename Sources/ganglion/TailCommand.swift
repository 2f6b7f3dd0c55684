import ArgumentParser
import Foundation
import Ganglion
import GanglionWire
import SchemaRegistry
import SwiftProtobuf

/// `ganglion tail TOPIC`: follows a topic live, one JSON line per event.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Follow a topic: one JSON line per event, in order per partition.",
        discussion: "Starts at the end unless --from-beginning, --offset or --since is given; exits after --max-events when given.")

    @OptionGroup var node: NodeAddress
    @Argument(help: "The topic.") var topic: String
    @Flag(help: "Start at the first stored event.") var fromBeginning = false
    @Option(help: "Start at this offset (in every partition followed).") var offset: Int64?
    @Option(help: "Start at the first event at or after this time: ISO 8601 (2026-11-21T10:00:00Z) or ago (30s, 10m, 2h, 1d).") var since: String?
    @Option(help: "Follow only this partition.") var partition: UInt32?
    @Option(help: "Exit after this many events.") var maxEvents: Int?
    @Option(help: "Consume as a member of this group: share partitions with the other members, start at committed offsets, commit what is printed.") var group: String?

    func validate() throws {
        if [fromBeginning, offset != nil, since != nil].filter({ $0 }).count > 1 {
            throw ValidationError("give one of --from-beginning, --offset and --since")
        }
        if let since, parseTime(since) == nil {
            throw ValidationError("--since \(since) is neither an ISO 8601 time (2026-11-21T10:00:00Z) nor a duration ago (30s, 10m, 2h, 1d)")
        }
        if group != nil && (fromBeginning || offset != nil || since != nil) {
            throw ValidationError("a group member starts at the group's committed offsets; move them with `ganglion group reset-offsets`")
        }
        if let maxEvents, maxEvents < 1 { throw ValidationError("--max-events must be at least 1") }
    }

    func run() async throws {
        do {
            let client = try await node.client()
            defer { client.close() }
            if let group {
                try await consumeAsMember(client: client, group: group)
                return
            }
            let described = try await client.describeTopic(topic)
            let partitions = described.partitions.filter { partition == nil || $0.partition == partition }
            guard !partitions.isEmpty else { throw GanglionError(code: .unknownPartition, message: "topic \(topic) has no partition \(partition!)") }
            var startAtTime: [UInt32: Int64] = [:]
            if let since {
                for entry in try await client.listOffsets(topic: topic, timestamp: parseTime(since)!) { startAtTime[entry.partition] = entry.offset }
            }
            let printer = LinePrinter(limit: maxEvents)
            let codecs = RegistryCodecs(client: client)
            // Bare values are read as Confluent-framed protobuf only on a topic bound to a subject.
            let framed = !described.config.subject.isEmpty
            try await withThrowingTaskGroup(of: Void.self) { group in
                for described in partitions {
                    var start = offset ?? startAtTime[described.partition] ?? (fromBeginning ? described.logStartOffset : described.highWatermark)
                    if start < 0 {
                        // Unknown where the partition was described (no leader answered): its leader's.
                        start = try await client.listOffsets(topic: topic, partitions: [described.partition], timestamp: fromBeginning ? -2 : -1)
                            .first?.offset ?? 0
                    }
                    let pub = try await client.leader(of: topic, partition: described.partition).pub
                    let stream = try PartitionStream(client: client, pubEndpoint: pub, topic: topic, partition: described.partition, from: start)
                    group.addTask {
                        defer { stream.close() }
                        for try await delivered in stream.records() {
                            guard await printer.print(await Self.line(delivered, codecs: codecs, framedValues: framed)) else { return }
                        }
                    }
                }
                // The first partition to reach the limit ends the others.
                _ = try await group.next()
                if maxEvents != nil { group.cancelAll() }
                try await group.waitForAll()
            }
        } catch is CancellationError {
        } catch { throw failCommand(error) }
    }

    /// Tails as a group member, committing each printed event.
    private func consumeAsMember(client: GanglionClient, group: String) async throws {
        let consumer = GroupConsumer(client: client, group: group, topics: [topic])
        let printer = LinePrinter(limit: maxEvents)
        let codecs = RegistryCodecs(client: client)
        let framed = !((try? await client.metadata(topics: [topic]))?.topics.first?.config.subject ?? "").isEmpty
        for try await delivered in consumer.records {
            let more = await printer.print(await Self.line(delivered, codecs: codecs, framedValues: framed))
            try? await consumer.commit(delivered)
            if !more { break }
        }
        await consumer.close()
    }

    /// The event as one JSON line: where it is, and the envelope when the value is one. A
    /// payload that is protobuf of a registry schema (named by the envelope or by Confluent's
    /// framing) is shown decoded as `dataJson` (or `valueJson` for a bare framed value, looked for
    /// only when `framedValues`: the topic has a subject); text as `dataText`; other bytes stay base64.
    static func line(_ delivered: DeliveredRecord, codecs: RegistryCodecs? = nil, framedValues: Bool = false) async -> String {
        let record = delivered.record
        var line = "{\"topic\":\(quote(delivered.topic)),\"partition\":\(delivered.partition),\"offset\":\(record.offset),\"timestamp\":\(record.timestamp)"
        if let key = record.key { line += ",\"key\":\(quote(String(decoding: key, as: UTF8.self)))" }
        if let value = record.value {
            if let envelope = try? EventEnvelope(serializedBytes: value), !envelope.id.isEmpty,
               var json = try? envelope.jsonString() {
                // The registry unreachable or the schema unknown: the line goes without the decoding.
                if let decoded = try? await codecs?.json(of: envelope) {
                    json = String(json.dropLast()) + ",\"dataJson\":\(String(decoding: decoded, as: UTF8.self))}"
                } else if let text = String(data: envelope.data, encoding: .utf8) {
                    json = String(json.dropLast()) + ",\"dataText\":\(quote(text))}"
                }
                line += ",\"event\":\(json)"
            } else if framedValues, let decoded = await framedJSON(value, codecs: codecs) {
                line += ",\"valueJson\":\(decoded)"
            } else {
                line += ",\"value\":\(quote(Data(value).base64EncodedString()))"
            }
        }
        return line + "}"
    }

    /// A bare value in Confluent's framing, decoded through the registry; nil otherwise.
    private static func framedJSON(_ value: [UInt8], codecs: RegistryCodecs?) async -> String? {
        guard let codecs, ConfluentFraming(parsing: value) != nil else { return nil }
        var bare = EventEnvelope()
        bare.data = Data(value)
        guard let decoded = try? await codecs.json(of: bare) else { return nil }
        return String(decoding: decoded, as: UTF8.self)
    }

    static func quote(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }
}

/// Prints lines from several partitions' tasks, one at a time, up to a limit.
actor LinePrinter {
    private let limit: Int?
    private var printed = 0

    init(limit: Int?) { self.limit = limit }

    /// Prints `line`; false once the limit is reached (the caller stops).
    func print(_ line: String) -> Bool {
        if let limit, printed >= limit { return false }
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
        printed += 1
        return limit.map { printed < $0 } ?? true
    }
}
