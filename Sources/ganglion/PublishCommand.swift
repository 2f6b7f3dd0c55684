import ArgumentParser
import Foundation
import Ganglion
import GanglionWire
import SwiftProtobuf

/// `ganglion publish TOPIC`: one event from flags, or one event per stdin line.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish events to a topic.",
        discussion: """
            With --data, publishes one event. Otherwise reads standard input: each line is one event, \
            either a JSON object {"key": …, "type": …, "data": …} with only those keys (data a string or \
            any JSON value), or any other JSON value or plain text, which is the data itself. An object \
            mixing key, type or data with other keys is refused, naming the line. Events with a key go to the key's partition (murmur2, as Kafka).             Each event's datacontenttype is application/json when its data is JSON, text/plain; charset=utf-8 otherwise, or --content-type.
            """)

    @OptionGroup var node: NodeAddress
    @Argument(help: "The topic.") var topic: String
    @Option(help: "The event's key (partitioning).") var key: String?
    @Option(help: "The CloudEvents type.") var type = "ganglion.cli.event"
    @Option(help: "The CloudEvents source.") var source = "/ganglion/cli"
    @Option(help: "The payload (UTF-8); omit to read events from stdin.") var data: String?
    @Option(help: "With a topic bound to a registry subject: the message to encode payloads as (default: the schema's first).") var message: String?
    @Option(name: .customLong("content-type"),
            help: "The events' datacontenttype, e.g. application/xml (default: application/json for JSON data, text/plain; charset=utf-8 otherwise).")
    var contentType: String?
    @Option(name: .customLong("retry-for"),
            help: """
                With --data: how many seconds to keep trying, with backoff, when the publish fails before the event could be \
                stored (no node answered, no producer id yet, a refusal); each try is printed to stderr. A publish whose outcome \
                is unknown (the node may have stored it) is not repeated. 0: one try.
                """)
    var retryFor: Double = 0

    func validate() throws {
        if let contentType, !Self.isMediaType(contentType) {
            throw ValidationError("--content-type \(contentType) is not a media type (type/subtype, e.g. application/xml)")
        }
    }

    /// Whether `value` is a media type: `type/subtype`, each a non-empty token, then parameters.
    static func isMediaType(_ value: String) -> Bool {
        let essence = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let parts = essence.split(separator: "/", omittingEmptySubsequences: false)
        let token = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "!#$&^_.+-"))
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.unicodeScalars.allSatisfy(token.contains) }
    }

    /// The datacontenttype of data the CLI read as text: JSON (any JSON value), or plain text.
    static func inferredContentType(of data: Data) -> String {
        if data.isEmpty { return "" }
        return (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil ? "application/json" : "text/plain; charset=utf-8"
    }

    func run() async throws {
        do {
            if let data { return try await publish(envelope(key: key, type: type, data: Data(data.utf8))) }
            let client = try await node.client()
            defer { client.close() }
            let producer = try await Producer(client: client)
            let encoder = try await payloadEncoder(client)
            // Lines stream through the producer's bounded buffer: any amount of input, bounded memory.
            var published = 0
            var number = 0
            while let line = readLine(strippingNewline: true) {
                number += 1
                guard !line.isEmpty else { continue }
                var event: EventEnvelope
                do {
                    event = try parse(line, number: number)
                } catch {
                    try await producer.flush()
                    FileHandle.standardError.write(Data("published \(published) event(s) to \(topic) before line \(number)\n".utf8))
                    throw error
                }
                if let encoder { try encode(&event, with: encoder, line: number) }
                try await producer.enqueue(topic: topic, key: event.key.isEmpty ? nil : Array(event.key), value: try event.serializedBytes())
                published += 1
                if published % 10_000 == 0 { FileHandle.standardError.write(Data("published \(published)\r".utf8)) }
            }
            try await producer.flush()
            print("published \(published) event(s) to \(topic)")
        } catch { throw failCommand(error) }
    }

    /// Publishes one event, tried again — a new client and producer, the same event (its id too)
    /// — while a try fails before the event could be stored and `--retry-for` allows.
    private func publish(_ event: EventEnvelope) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(max(0, retryFor) * 1000))
        var attempt = 1
        while true {
            var sending = false
            do {
                let client = try await node.client()
                defer { client.close() }
                // Resends under the producer's id and sequence are stored once whatever happened to
                // the earlier ones, so they may go on as long as --retry-for allows (a node
                // restarting in a rolling restart is away for seconds, longer than the ten
                // attempts — about a second — a producer makes by default).
                var configuration = ProducerConfiguration()
                configuration.maxAttempts = max(configuration.maxAttempts, 10 + Int(max(0, retryFor) * 2))
                let producer = try await Producer(client: client, configuration: configuration)
                var encoded = event
                if let encoder = try await payloadEncoder(client) { try encode(&encoded, with: encoder, line: nil) }
                sending = true
                let stored = try await producer.send(topic: topic, event: encoded)
                print("published to \(topic)-\(stored.partition) at offset \(stored.offset)" + (attempt > 1 ? " (try \(attempt))" : ""))
                return
            } catch {
                // The producer already resent what timed out under its id and sequence (stored
                // once); a timeout left after that may have been stored, so it is not repeated.
                let outcomeUnknown = sending && ((error as? GanglionError).map { $0.code == .timeout } ?? true)
                guard !outcomeUnknown, !(error is ValidationError), ContinuousClock.now < deadline else { throw error }
                let pause = min(250 << min(attempt - 1, 4), 4_000)
                FileHandle.standardError.write(Data("publish: try \(attempt) failed (\(error)); trying again in \(pause) ms\n".utf8))
                try await Task.sleep(for: .milliseconds(pause))
                attempt += 1
            }
        }
    }

    /// A topic bound to a registry subject gets JSON payloads encoded as its latest schema (nil: not bound).
    private func payloadEncoder(_ client: GanglionClient) async throws -> PayloadEncoder? {
        let subject = try await client.metadata(topics: [topic]).topics.first?.config.subject ?? ""
        return subject.isEmpty ? nil : try await PayloadEncoder(client: client, subject: subject, message: message)
    }

    /// Replaces the event's JSON data by its protobuf encoding, stamped with the schema id.
    private func encode(_ event: inout EventEnvelope, with encoder: PayloadEncoder, line: Int?) throws {
        let where_ = line.map { "line \($0): " } ?? ""
        let json = String(decoding: event.data, as: UTF8.self)
        do {
            event.data = Data(try encoder.encode(json: json))
        } catch {
            throw ValidationError("\(where_)the data is not a \(encoder.messageType) of \(encoder.subject) (schema id \(encoder.schemaID)): \(error)")
        }
        event.schemaID = encoder.schemaID
        event.messageName = encoder.messageType
        event.dataContentType = "application/protobuf"
    }

    /// The keys of a line's envelope form; an object with none of them is the data itself.
    static let envelopeKeys: Set<String> = ["key", "type", "data"]

    /// One stdin line as an event: the envelope form (an object of only ``envelopeKeys``), a JSON
    /// value as the data itself, or plain text as the data. An object mixing envelope keys with
    /// others is ambiguous and refused, naming the line, so no content is ever dropped.
    private func parse(_ line: String, number: Int) throws -> EventEnvelope {
        guard let value = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]),
              let object = value as? [String: Any], !Set(object.keys).isDisjoint(with: Self.envelopeKeys) else {
            return envelope(key: key, type: type, data: Data(line.utf8))
        }
        let keys = Set(object.keys)
        let others = keys.subtracting(Self.envelopeKeys)
        guard others.isEmpty else {
            throw ValidationError("""
                line \(number): the object mixes envelope keys (\(keys.intersection(Self.envelopeKeys).sorted().joined(separator: ", "))) \
                with other keys (\(others.sorted().joined(separator: ", "))); write {"key": …, "type": …, "data": {…}} to publish \
                an envelope, or an object without key, type and data to publish the line itself as the data
                """)
        }
        guard object["key"] == nil || object["key"] is String, object["type"] == nil || object["type"] is String else {
            throw ValidationError("line \(number): \"key\" and \"type\" must be strings")
        }
        let payload: Data
        var inferred = "text/plain; charset=utf-8"
        switch object["data"] {
        case let text as String: payload = Data(text.utf8)
        case .some(let value):
            payload = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
            inferred = "application/json"
        case .none:
            payload = Data()
            inferred = ""
        }
        var event = envelope(key: (object["key"] as? String) ?? key, type: (object["type"] as? String) ?? type, data: payload)
        event.dataContentType = contentType ?? inferred
        return event
    }

    private func envelope(key: String?, type: String, data: Data) -> EventEnvelope {
        var event = EventEnvelope()
        event.id = UUID().uuidString.lowercased()
        event.source = source
        event.specVersion = EventEnvelope.cloudEventsSpecVersion
        event.type = type
        event.time = Google_Protobuf_Timestamp(date: Date())
        event.dataContentType = contentType ?? Self.inferredContentType(of: data)
        if let key { event.key = Data(key.utf8) }
        event.data = data
        return event
    }
}
