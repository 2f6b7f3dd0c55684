import ArgumentParser
import Foundation
import Ganglion
import GanglionWire

/// `ganglion demo replay --threshold N`: runs the fraud agent with another threshold over the
/// recorded transactions in a shadow group, its decisions going to shadow topics, and prints
/// which recorded decisions would change.
struct DemoReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay the fraud agent over history with another threshold and show which decisions would change.")

    @OptionGroup var node: NodeAddress
    @Option(help: "The threshold to try (the running agent uses 1000).") var threshold: Double
    @Option(help: "Replay from this time (ISO 8601 or 30s, 10m, 2h, 1d ago); default: all history.") var since: String?
    @Flag(help: "Keep the shadow topics afterwards (default: delete them).") var keep = false
    @Option(help: "Give up after this many seconds.") var timeout = 120.0

    func validate() throws {
        guard threshold > 0 else { throw ValidationError("--threshold must be positive") }
        if let since, parseTime(since) == nil { throw ValidationError("--since \(since) is neither an ISO 8601 time nor a duration ago (30s, 10m, 2h, 1d)") }
    }

    func run() async throws {
        do {
            let client = try await node.client()
            defer { client.close() }
            let agent = try FraudDetectionAgent(threshold: threshold)
            let shadow = "threshold-\(Int(threshold))-\(UUID().uuidString.prefix(6).lowercased())"
            let group = AgentHost.shadowGroup(agent.name, shadow: shadow)
            let recorded = try await decisions(client, topic: "\(agent.name).decisions")
            // The history replayed: up to where the transactions end now (new ones keep coming).
            try await AgentHost(client: client).replay(agent, shadow: shadow, from: since.map { .time(Date(timeIntervalSince1970: Double(parseTime($0)!) / 1000)) } ?? .beginning,
                                                       timeout: .seconds(timeout))
            let shadowTopic = AgentHost.shadowTopic("\(agent.name).decisions", shadow: shadow)
            let replayed = try await decisions(client, topic: shadowTopic)
            report(recorded: recorded, replayed: replayed)
            if !keep {
                for topic in [shadowTopic, AgentHost.shadowTopic("\(agent.name).dlq", shadow: shadow), AgentHost.shadowTopic("alerts", shadow: shadow),
                              AgentHost.changelogTopic(group, topic: "transactions")] {
                    try? await client.deleteTopic(topic)
                }
            }
        } catch { throw failCommand(error) }
    }

    /// Decision ("alert"/"pass") by input event id, from a decisions topic.
    private func decisions(_ client: GanglionClient, topic: String) async throws -> [String: String] {
        var decided: [String: String] = [:]
        for record in try await client.readAll(topic: topic) {
            guard let envelope = try? EventEnvelope(serializedBytes: record.value ?? []),
                  let object = try? JSONSerialization.jsonObject(with: envelope.data) as? [String: String],
                  let input = object["input_event"], let decision = object["decision"] else { continue }
            decided[input] = decision
        }
        return decided
    }

    private func report(recorded: [String: String], replayed: [String: String]) {
        var changed: [String] = []
        var filtered = 0
        for (input, before) in recorded.sorted(by: { $0.key < $1.key }) {
            guard let after = replayed[input] else {
                filtered += 1
                continue
            }
            if after != before { changed.append("  \(input): \(before) → \(after)") }
        }
        print("replayed \(recorded.count) recorded decision(s) with threshold \(Int(threshold)):")
        print("  \(recorded.count - filtered - changed.count) unchanged, \(changed.count) changed, \(filtered) no longer reach the agent (filtered out)")
        for line in changed.prefix(50) { print(line) }
        if changed.count > 50 { print("  … and \(changed.count - 50) more") }
    }
}
