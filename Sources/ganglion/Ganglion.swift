import ArgumentParser
import Foundation

/// The `ganglion` command: node, operator and developer CLI.
@main
struct GanglionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ganglion",
        abstract: "Ganglion: a distributed runtime for event-driven AI agents.",
        version: GanglionVersion.current,
        subcommands: [VersionCommand.self, NodeCommand.self, TopicCommand.self, PublishCommand.self, TailCommand.self, GroupCommand.self, SchemaCommand.self, BenchCommand.self, DemoCommand.self, DLQCommand.self, AskCommand.self, ClusterCommand.self, WorkloadCommand.self, SecurityCommand.self, AclCommand.self],
        defaultSubcommand: VersionCommand.self
    )

    /// Runs the command; usage errors of `schema diff` exit with 2, as CI tools like
    /// `buf breaking` do (1 is reserved for "incompatible").
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let arguments = CommandLine.arguments.dropFirst()
            if arguments.starts(with: ["schema", "diff"]), exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
