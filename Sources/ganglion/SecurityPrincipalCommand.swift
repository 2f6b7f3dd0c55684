import ArgumentParser
import Foundation
import Ganglion

/// `ganglion security principal add|remove|list`: the principals a secured cluster admits, each
/// with the CURVE public key it authenticates with (the nodes' ZAP allow-list).
struct SecurityPrincipalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "principal", abstract: "Add, remove and list principals and their public keys.",
        subcommands: [Add.self, Remove.self, List.self])

    /// `ganglion security principal add NAME --public-key Z85 | --public-key-file PATH`.
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Admit a principal with its CURVE public key.")
        @OptionGroup var node: NodeAddress
        @Argument(help: "The principal's name: 1–64 characters of A–Z a–z 0–9 . _ -") var name: String
        @Option(help: "Its public key: 40 Z85 characters.") var publicKey: String?
        @Option(help: "A file with its public key (NAME.pub from `ganglion security keygen`, or the 40 characters alone).")
        var publicKeyFile: String?

        func validate() throws {
            guard (publicKey == nil) != (publicKeyFile == nil) else { throw ValidationError("give one of --public-key and --public-key-file") }
        }

        func run() async throws {
            do {
                let key = try publicKey ?? Self.read(publicKeyFile ?? "")
                let client = try await node.client()
                defer { client.close() }
                try await client.addPrincipal(name, publicKey: key)
                print("added principal \(name) (public key \(key))")
            } catch { throw failCommand(error) }
        }

        /// The public key in a key file, or a file holding only the key.
        static func read(_ path: String) throws -> String {
            if let key = try? CurveKeyFiles.readPublicKey(path) { return key.z85 }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read \(path) (missing, or not readable by this user)")
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard text.utf8.count == 40 else { throw ValidationError("\(path) holds no public-key line and is not a 40-character Z85 key") }
            return text
        }
    }

    /// `ganglion security principal remove NAME`.
    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a principal; its HTTP tokens are revoked with it (its ACLs stay).")
        @OptionGroup var node: NodeAddress
        @Argument(help: "The principal's name.") var name: String

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                try await client.removePrincipal(name)
                print("removed principal \(name) and its tokens")
            } catch { throw failCommand(error) }
        }
    }

    /// `ganglion security principal list [--json]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List principals and their public keys.",
                                                        discussion: "JSON: an array of objects with name and publicKey.")
        @OptionGroup var node: NodeAddress
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() async throws {
            let principals: [String: String]
            do {
                let client = try await node.client()
                defer { client.close() }
                principals = try await client.listPrincipals()
            } catch { throw failCommand(error) }
            let sorted = principals.sorted { $0.key < $1.key }
            if json {
                print(CommandOutput.json(sorted.map { ["name": $0.key, "publicKey": $0.value] }))
            } else {
                print(CommandOutput.table(header: ["PRINCIPAL", "PUBLIC KEY"], rows: sorted.map { [$0.key, $0.value] }, empty: "no principals"))
            }
        }
    }
}
