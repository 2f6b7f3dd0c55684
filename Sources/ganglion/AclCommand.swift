import ArgumentParser
import ClusterCore
import Foundation
import Ganglion

/// `ganglion acl add|remove|list`: the cluster's ACLs (Kafka's model: a principal is allowed or
/// denied an operation on the resources matching a pattern; a deny wins).
struct AclCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acl", abstract: "Add, remove and list ACLs.",
        discussion: """
            A binding allows (or, with --deny, denies) --principal NAME (or * for everyone) each --operation \
            (read, write, create, delete, alter, describe, all) on a resource: --topic NAME, --group NAME, \
            --subject NAME (literal; * is every one, or with --prefix every name starting with NAME) or --cluster. \
            A deny wins over any allow; read, write, delete and alter imply describe.
            """,
        subcommands: [Add.self, Remove.self, List.self])

    /// The resource of a binding or a filter: one of --topic, --group, --subject, --cluster.
    struct Resource: ParsableArguments {
        @Option(help: "A topic's name (with --prefix: a prefix of names; * is every topic).") var topic: String?
        @Option(help: "A consumer group's (an agent type's) name.") var group: String?
        @Option(help: "A schema registry subject's name.") var subject: String?
        @Flag(help: "The cluster itself (creating topics, managing security, cluster status).") var cluster = false
        @Flag(help: "Match names starting with the given one (a prefix pattern) instead of the name exactly.") var prefix = false

        /// The type and name given (nil when none was; a usage error when more than one was).
        func resolved() throws -> (type: AclResourceType, name: String)? {
            let given = [topic.map { (AclResourceType.topic, $0) }, group.map { (.group, $0) }, subject.map { (.subject, $0) },
                         cluster ? (.cluster, AclBinding.anyResource) : nil].compactMap { $0 }
            guard given.count <= 1 else { throw ValidationError("name one resource: --topic, --group, --subject or --cluster") }
            if prefix, given.first?.0 == .cluster { throw ValidationError("--prefix does not apply to --cluster") }
            return given.first
        }
    }

    /// The bindings named by `add` and `remove`: one per operation.
    struct Bindings: ParsableArguments {
        @Option(help: "The principal's name, or * for every principal.") var principal: String
        @Flag(help: "Allow the operations (the default).") var allow = false
        @Flag(help: "Deny the operations (a deny wins over any allow).") var deny = false
        @Option(name: .customLong("operation"), help: "read, write, create, delete, alter, describe or all (repeat for several).")
        var operations: [String] = []
        @OptionGroup var resource: Resource

        func validate() throws {
            if allow && deny { throw ValidationError("--allow and --deny exclude each other") }
            if operations.isEmpty { throw ValidationError("name at least one --operation") }
            _ = try bindings()
        }

        /// Adds (or removes) the bindings one by one, printing each.
        func send(to node: NodeAddress, removing: Bool) async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                for binding in try bindings() {
                    if removing { try await client.removeAcl(binding) } else { try await client.addAcl(binding) }
                    print("\(removing ? "removed" : "added") \(binding)")
                }
            } catch { throw failCommand(error) }
        }

        /// One binding per operation.
        func bindings() throws -> [AclBinding] {
            guard let (type, name) = try resource.resolved() else {
                throw ValidationError("name the resource: --topic NAME, --group NAME, --subject NAME or --cluster")
            }
            return try operations.map { text in
                guard let operation = AclOperation(rawValue: text.lowercased()) else {
                    throw ValidationError("--operation \(text) is not one of \(AclOperation.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return AclBinding(principal: principal, resourceType: type, patternType: resource.prefix ? .prefix : .literal,
                                  resourceName: name, operation: operation, permission: deny ? .deny : .allow)
            }
        }
    }

    /// `ganglion acl add --principal NAME --operation OP [--deny] --topic NAME [--prefix]`.
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add ACLs: one per --operation.")
        @OptionGroup var node: NodeAddress
        @OptionGroup var bindings: Bindings

        func run() async throws { try await bindings.send(to: node, removing: false) }
    }

    /// `ganglion acl remove …` (the same flags as `add`).
    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove ACLs: one per --operation, exactly as added.")
        @OptionGroup var node: NodeAddress
        @OptionGroup var bindings: Bindings

        func run() async throws { try await bindings.send(to: node, removing: true) }
    }

    /// `ganglion acl list [--principal NAME] [--topic NAME | …] [--json]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List ACLs, optionally those naming exactly a principal or a resource.",
            discussion: "JSON: an array of objects with principal, permission, operation, resourceType, patternType, resourceName.")
        @OptionGroup var node: NodeAddress
        @Option(help: "Only bindings naming exactly this principal (* for those naming every principal).") var principal: String?
        @OptionGroup var resource: Resource
        @Flag(help: "Print JSON instead of a table.") var json = false

        func validate() throws { _ = try resource.resolved() }

        func run() async throws {
            let acls: [AclBinding]
            do {
                let client = try await node.client()
                defer { client.close() }
                let filter = try resource.resolved()
                acls = try await client.listAcls(principal: principal, resourceType: filter?.type, resourceName: filter?.name)
            } catch { throw failCommand(error) }
            print(json ? CommandOutput.json(acls) : Self.table(acls))
        }

        /// The ACLs as a table for a person.
        static func table(_ acls: [AclBinding]) -> String {
            let rows = acls.map { [$0.principal, $0.permission.rawValue, $0.operation.rawValue, $0.resourceType.rawValue, $0.patternType.rawValue, $0.resourceName] }
            return CommandOutput.table(header: ["PRINCIPAL", "PERMISSION", "OPERATION", "RESOURCE", "PATTERN", "NAME"], rows: rows,
                                       empty: "no ACLs")
        }
    }
}
