import ArgumentParser

/// `ganglion schema …`: compile, check and (with a node) register protobuf schemas.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Work with protobuf schemas: compile .proto files and check compatibility.",
        subcommands: [SchemaCompileCommand.self, SchemaDiffCommand.self]
    )
}
