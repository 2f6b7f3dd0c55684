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
            either a JSON object {"key": …, "type": …, "data": …} (data a string or any JSON value) or \
            plain text used as the data. Events with a key go to the key's partition (murmur2, as Kafka).
            """)

    @OptionGroup var node: NodeAddress
    @Argument(help: "The topic.") var topic: String
    @Option(help: "The event's key (partitioning).") var key: String?
    @Option(help: "The CloudEvents type.") var type = "ganglion.cli.event"
    @Option(help: "The CloudEvents source.") var source = "/ganglion/cli"
    @Option(help: "The payload (UTF-8); omit to read events from stdin.") var data: String?

    func run() async throws {
        var events: [EventEnvelope] = []
        if let data {
            events.append(envelope(key: key, type: type, data: Data(data.utf8)))
        } else {
            while let line = readLine(strippingNewline: true) {
                guard !line.isEmpty else { continue }
                events.append(parse(line))
            }
        }
        do {
            let client = try node.client()
            defer { client.close() }
            var published = 0
            for chunk in stride(from: 0, to: events.count, by: 1000) {
                let offsets = try await client.publish(topic: topic, events: Array(events[chunk..<min(chunk + 1000, events.count)]))
                published += offsets.count
                if events.count > 1000 { FileHandle.standardError.write(Data("published \(published)/\(events.count)\r".utf8)) }
                if events.count == 1, let first = offsets.first { print("published to \(topic)-\(first.partition) at offset \(first.offset)") }
            }
            if events.count != 1 { print("published \(published) event(s) to \(topic)") }
        } catch { throw failCommand(error) }
    }

    private func parse(_ line: String) -> EventEnvelope {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            return envelope(key: key, type: type, data: Data(line.utf8))
        }
        let payload: Data
        switch object["data"] {
        case let text as String: payload = Data(text.utf8)
        case .some(let value): payload = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])) ?? Data()
        case .none: payload = Data()
        }
        return envelope(key: (object["key"] as? String) ?? key, type: (object["type"] as? String) ?? type, data: payload)
    }

    private func envelope(key: String?, type: String, data: Data) -> EventEnvelope {
        var event = EventEnvelope()
        event.id = UUID().uuidString.lowercased()
        event.source = source
        event.specVersion = EventEnvelope.cloudEventsSpecVersion
        event.type = type
        event.time = Google_Protobuf_Timestamp(date: Date())
        event.dataContentType = "application/octet-stream"
        if let key { event.key = Data(key.utf8) }
        event.data = data
        return event
    }
}
