import ArgumentParser
import Foundation
import Ganglion
import GanglionWire

/// `ganglion group list|describe|reset-offsets`.
struct GroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "Inspect consumer groups and move their offsets.",
        subcommands: [List.self, Describe.self, ResetOffsets.self])

    /// `ganglion group list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the consumer groups: members, epoch and state.")
        @OptionGroup var node: NodeAddress

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                let groups = try await client.listGroups()
                print("group\tmembers\tepoch\tstate")
                for group in groups { print("\(group.group)\t\(group.members)\t\(group.groupEpoch)\t\(group.state)") }
            } catch { throw failCommand(error) }
        }
    }

    /// `ganglion group describe GROUP`.
    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a group's members, their partitions and the lag per partition.")
        @OptionGroup var node: NodeAddress
        @Argument(help: "The group.") var group: String

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                let described = try await client.describeGroup(group)
                guard described.groupEpoch > 0 || !described.lag.isEmpty else {
                    throw GanglionError(code: .unknownGroup, message: "group \(group) has no members and no committed offsets")
                }
                print("group \(group): epoch \(described.groupEpoch), \(described.members.count) member(s)")
                for member in described.members {
                    let assigned = member.assigned.flatMap { entry in entry.partitions.map { "\(entry.topic)-\($0)" } }
                    let node = member.node.isEmpty ? "" : "  node \(member.node)"
                    print("  \(member.memberID)\(node)  epoch \(member.memberEpoch)  \(member.state)  [\(assigned.joined(separator: ", "))]")
                }
                // Committed or not (`-`: the member starts where its reset policy says), by partition.
                let rows = (described.lag + described.uncommitted).sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
                if !rows.isEmpty {
                    print("partition\tcommitted\thigh-watermark\tlag")
                    for row in rows {
                        func shown(_ value: Int64) -> String { value < 0 ? "-" : String(value) }
                        print("\(row.topic)-\(row.partition)\t\(shown(row.committedOffset))\t\(shown(row.highWatermark))\t\(shown(row.lag))")
                    }
                }
            } catch { throw failCommand(error) }
        }
    }

    /// `ganglion group reset-offsets GROUP --topic T (--to-earliest|--to-latest|--to-offset N|--to-datetime T|--shift-by N) [--execute]`.
    struct ResetOffsets: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-offsets",
            abstract: "Move a group's committed offsets on a topic (the group must have no members).",
            discussion: "Prints the new offsets; stores them only with --execute (as Kafka's tool, a dry run by default).")
        @OptionGroup var node: NodeAddress
        @Argument(help: "The group.") var group: String
        @Option(help: "The topic.") var topic: String
        @Option(help: "Only this partition (repeatable); default: every partition.") var partition: [UInt32] = []
        @Flag(help: "To each partition's first stored event.") var toEarliest = false
        @Flag(help: "To each partition's end (skip everything stored).") var toLatest = false
        @Option(help: "To this offset.") var toOffset: Int64?
        @Option(help: "To the first event at or after this time (ISO 8601, e.g. 2026-11-21T10:00:00Z).") var toDatetime: String?
        @Option(parsing: .unconditional, help: "Move the committed offsets by this many (negative: back).") var shiftBy: Int64?
        @Flag(help: "Store the new offsets (default: only show them).") var execute = false

        func validate() throws {
            let chosen = [toEarliest, toLatest, toOffset != nil, toDatetime != nil, shiftBy != nil].filter { $0 }.count
            guard chosen == 1 else {
                throw ValidationError("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by")
            }
            if let toDatetime, parseTime(toDatetime) == nil {
                throw ValidationError("--to-datetime \(toDatetime) is not an ISO 8601 time such as 2026-11-21T10:00:00Z")
            }
        }

        func run() async throws {
            let target: OffsetResetTarget =
                toEarliest ? .earliest : toLatest ? .latest : toOffset.map { .offset($0) }
                ?? shiftBy.map { .shift($0) } ?? .timestamp(parseTime(toDatetime!)!)
            do {
                let client = try await node.client()
                defer { client.close() }
                let offsets = try await client.resetOffsets(group: group, topic: topic, partitions: partition, to: target, dryRun: !execute)
                print("partition\tnew-offset")
                for entry in offsets { print("\(entry.topic)-\(entry.partition)\t\(entry.offset)") }
                if !execute { print("(dry run: add --execute to store these offsets)") }
            } catch { throw failCommand(error) }
        }
    }
}

/// Milliseconds since the epoch of an ISO 8601 time (with or without fractional seconds), or of
/// a relative time such as `10m`, `2h` or `1d` ago.
func parseTime(_ text: String) -> Int64? {
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
    if let unit = text.last, let seconds = units[unit], let count = Double(text.dropLast()), count >= 0 {
        return Int64((Date().timeIntervalSince1970 - count * seconds) * 1000)
    }
    let formatter = ISO8601DateFormatter()
    if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text).map { Int64($0.timeIntervalSince1970 * 1000) }
}
