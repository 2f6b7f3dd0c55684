import ArgumentParser
import Foundation
import Ganglion

/// `ganglion ask AGENT KEY [DATA]`: asks the shard owning KEY and prints its reply.
struct AskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask", abstract: "Ask an agent about one entity and print its reply.",
        discussion: """
            The request is stored as an event on the agent's input topic under KEY, so the shard that owns the key \
            handles it in order with the key's events; the reply is printed once its handling is durable. \
            Exits 1 when no reply came within --timeout (the request is still handled later).
            """)
    @OptionGroup var node: NodeAddress
    @Argument(help: "The agent type.") var agent: String
    @Argument(help: "The entity key.") var key: String
    @Argument(help: "The request payload (JSON by default).") var data: String = "{}"
    @Option(help: "The request event's type (default ganglion.ask).") var type: String = ""
    @Option(help: "How long to wait for the reply, in milliseconds.") var timeout: UInt32 = 5_000
    @Option(help: "The request id (asking again with the same id does not run the handler again).") var id: String = ""

    func run() async throws {
        do {
            let client = try await node.client()
            defer { client.close() }
            let reply = try await client.ask(agent: agent, key: key, type: type, data: Data(data.utf8),
                                             timeout: .milliseconds(Int(timeout)), id: id)
            print(String(decoding: reply.data, as: UTF8.self))
        } catch { throw failCommand(error) }
    }
}
