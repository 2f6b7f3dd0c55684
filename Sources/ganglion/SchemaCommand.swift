import ArgumentParser

/// `ganglion schema …`: compile, check and (with a node) register protobuf schemas.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Work with protobuf schemas: compile and diff .proto files; register, check, list, get, configure and delete them in the node's registry.",
        subcommands: [SchemaCompileCommand.self, SchemaDiffCommand.self, SchemaRegisterCommand.self, SchemaCheckCommand.self,
                      SchemaListCommand.self, SchemaGetCommand.self, SchemaConfigCommand.self, SchemaDeleteCommand.self]
    )
}
