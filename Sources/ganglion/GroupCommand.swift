import ArgumentParser
import Foundation
import Ganglion
import GanglionWire

/// `ganglion group describe`: members, assignments and lag per partition.
struct GroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "Inspect consumer groups.", subcommands: [Describe.self])

    /// `ganglion group describe GROUP`.
    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a group's members, their partitions and the lag per partition.")
        @OptionGroup var node: NodeAddress
        @Argument(help: "The group.") var group: String

        func run() async throws {
            do {
                let client = try node.client()
                defer { client.close() }
                var request = Ganglion_V1_DescribeGroupRequest()
                request.group = group
                let described = try await client.call(.describeGroup, request, reply: Ganglion_V1_DescribeGroupResponse.self).0
                print("group \(group): epoch \(described.groupEpoch), \(described.members.count) member(s)")
                for member in described.members {
                    let assigned = member.assigned.flatMap { entry in entry.partitions.map { "\(entry.topic)-\($0)" } }
                    print("  \(member.memberID)  epoch \(member.memberEpoch)  \(member.state)  [\(assigned.joined(separator: ", "))]")
                }
                if !described.lag.isEmpty {
                    print("partition\tcommitted\thigh-watermark\tlag")
                    for lag in described.lag { print("\(lag.topic)-\(lag.partition)\t\(lag.committedOffset)\t\(lag.highWatermark)\t\(lag.lag)") }
                }
            } catch { throw failCommand(error) }
        }
    }
}
