import ArgumentParser
import Foundation
import Ganglion
import GanglionWire

/// `ganglion dlq list|replay AGENT`: an agent type's dead letters, and moving them back to
/// their topic after a fix.
struct DLQCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "List an agent type's dead letters, or replay them to their topic after a fix.",
        subcommands: [List.self, Replay.self])

    /// One dead letter and whether it was replayed.
    struct Letter {
        var envelope: EventEnvelope
        var replayed: Bool
    }

    /// Every dead letter of `agent`, with its replay status; an error naming the agent when it
    /// has no dead-letter topic (no such agent ever ran here: a mistyped name is not "none").
    static func letters(_ client: GanglionClient, agent: String) async throws -> [Letter] {
        let topic = AgentHost.deadLetterTopic(agent)
        do {
            _ = try await client.describeTopic(topic)
        } catch let error as GanglionError where error.code == .unknownTopic {
            throw GanglionError(code: .unknownTopic, message: "no agent named \(agent) ran on this cluster: its dead-letter topic \(topic) does not exist")
        }
        let replayed = Set(try await client.readAll(topic: AgentHost.deadLetterTopic(agent) + ".replayed").compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } })
        return try await client.readAll(topic: AgentHost.deadLetterTopic(agent)).compactMap { record in
            guard let envelope = try? EventEnvelope(serializedBytes: record.value ?? []) else { return nil }
            return Letter(envelope: envelope, replayed: replayed.contains(envelope.id))
        }
    }

    /// `ganglion dlq list AGENT`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an agent type's dead letters: event, error, attempts, where it came from.")
        @OptionGroup var node: NodeAddress
        @Argument(help: "The agent type.") var agent: String

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                let letters = try await DLQCommand.letters(client, agent: agent)
                guard !letters.isEmpty else {
                    print("no dead letters for agent \(agent)")
                    return
                }
                print("event\tattempts\tfrom\tstatus\terror")
                for letter in letters {
                    let extensions = letter.envelope.extensions
                    print("\(letter.envelope.causationID)\t\(extensions["attempts"] ?? "?")\t\(extensions["topic"] ?? "?")-\(extensions["partition"] ?? "?")@\(extensions["offset"] ?? "?")"
                          + "\t\(letter.replayed ? "replayed" : "dead")\t\(extensions["error"] ?? "")")
                }
            } catch { throw failCommand(error) }
        }
    }

    /// `ganglion dlq replay AGENT [--event ID]`.
    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters back to their topic (all not yet replayed, or one event), as new events that name the original.",
            discussion: "A replayed event gets the id <original>/replay and the extension replay_of, so the agent does not take it for a redelivery of the event it gave up on.")
        @OptionGroup var node: NodeAddress
        @Argument(help: "The agent type.") var agent: String
        @Option(help: "Only the dead letter of this event id.") var event: String?

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                let letters = try await DLQCommand.letters(client, agent: agent).filter { !$0.replayed && (event == nil || $0.envelope.causationID == event) }
                guard !letters.isEmpty else {
                    print(event.map { "no dead letter of event \($0) waits for a replay" } ?? "no dead letters wait for a replay")
                    return
                }
                let marker = AgentHost.deadLetterTopic(agent) + ".replayed"
                do { try await client.createTopic(marker, partitions: 1, compacted: true) } catch let error as GanglionError where error.code == .topicExists {}
                let producer = try await Producer(client: client)
                for letter in letters {
                    var original: EventEnvelope
                    do { original = try await AgentHost.originalEvent(of: letter.envelope, client: client) } catch {
                        FileHandle.standardError.write(Data("skipped \(letter.envelope.causationID): \(error)\n".utf8))
                        continue
                    }
                    guard let topic = letter.envelope.extensions["topic"] else {
                        FileHandle.standardError.write(Data("skipped \(letter.envelope.causationID): the dead letter names no topic\n".utf8))
                        continue
                    }
                    let originalID = original.id
                    original.id = originalID + "/replay"
                    original.extensions["replay_of"] = originalID
                    try await producer.send(topic: topic, event: original)
                    try await producer.send(topic: marker, key: Array(letter.envelope.id.utf8), value: Array("replayed".utf8))
                    print("replayed \(originalID) to \(topic) as \(original.id)")
                }
            } catch { throw failCommand(error) }
        }
    }
}

