import ArgumentParser
import Foundation
import Ganglion
import GanglionWire

/// `ganglion security token create|list|revoke`: bearer tokens for the node's HTTP surface
/// (registry, ask, ingest, metrics), each authenticating as a principal. The cluster keeps only
/// a token's hash: its secret is printed once, at creation.
struct SecurityTokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Create, list and revoke HTTP bearer tokens.",
        subcommands: [Create.self, List.self, Revoke.self])

    /// `ganglion security token create --principal NAME [--description TEXT] [--json]`.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token for a principal and print its secret (shown this once).",
            discussion: "JSON: an object with id, principal and secret.")
        @OptionGroup var node: NodeAddress
        @Option(help: "The principal the token authenticates as (it must exist).") var principal: String
        @Option(help: "What the token is for (at most 256 bytes).") var description: String?
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                let (id, secret) = try await client.createToken(principal: principal, description: description)
                if json {
                    print(CommandOutput.json(["id": id, "principal": principal, "secret": secret]))
                } else {
                    print("created token \(id) for principal \(principal)")
                    print(secret)
                }
                FileHandle.standardError.write(Data(
                    "warning: the secret is not stored and is not shown again; send it as `Authorization: Bearer <secret>`\n".utf8))
            } catch { throw failCommand(error) }
        }
    }

    /// `ganglion security token list [--json]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List tokens (never their secrets).",
            discussion: "JSON: an array of objects with id, principal, createdAtMs and description (null when none).")
        @OptionGroup var node: NodeAddress
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() async throws {
            let tokens: [Ganglion_V1_HttpToken]
            do {
                let client = try await node.client()
                defer { client.close() }
                tokens = try await client.listTokens()
            } catch { throw failCommand(error) }
            if json {
                print(CommandOutput.json(tokens.map(Listed.init)))
            } else {
                let rows = tokens.map { token in
                    [token.id, token.principal, Date(timeIntervalSince1970: Double(token.createdAtMs) / 1000).ISO8601Format(), token.description_p]
                }
                print(CommandOutput.table(header: ["ID", "PRINCIPAL", "CREATED", "DESCRIPTION"], rows: rows, empty: "no tokens"))
            }
        }

        /// A token as JSON.
        struct Listed: Encodable {
            var id: String
            var principal: String
            var createdAtMs: Int64
            var description: String?

            init(_ token: Ganglion_V1_HttpToken) {
                id = token.id
                principal = token.principal
                createdAtMs = token.createdAtMs
                description = token.description_p.isEmpty ? nil : token.description_p
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(id, forKey: .id)
                try container.encode(principal, forKey: .principal)
                try container.encode(createdAtMs, forKey: .createdAtMs)
                try container.encode(description, forKey: .description)  // null when none
            }

            private enum CodingKeys: String, CodingKey { case id, principal, createdAtMs, description }
        }
    }

    /// `ganglion security token revoke ID`.
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: requests bearing it are refused from then on.")
        @OptionGroup var node: NodeAddress
        @Argument(help: "The token's id (see `ganglion security token list`).") var id: String

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                try await client.revokeToken(id)
                print("revoked token \(id)")
            } catch { throw failCommand(error) }
        }
    }
}
