import ArgumentParser

/// The `ganglion` command: node, operator and developer CLI.
@main
struct GanglionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ganglion",
        abstract: "Ganglion: a distributed runtime for event-driven AI agents.",
        version: GanglionVersion.current,
        subcommands: [VersionCommand.self, SchemaCommand.self],
        defaultSubcommand: VersionCommand.self
    )
}
