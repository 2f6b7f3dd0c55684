import ArgumentParser
import Foundation
import Ganglion
import ProtoSchema

/// The text of a `.proto` file and its references, as the registry commands send them.
struct SchemaFileOptions: ParsableArguments {
    @Argument(help: "The .proto file.") var file: String
    @Option(name: [.customShort("I"), .customLong("proto_path")], parsing: .unconditionalSingleValue,
            help: "Compile locally first with this import path (repeatable): errors show before anything is sent.")
    var importPaths: [String] = []
    @Option(help: "An import served by another subject: NAME=SUBJECT:VERSION (repeatable), e.g. common/money.proto=money-value:1.")
    var reference: [String] = []

    func validate() throws {
        for entry in reference where parse(entry) == nil {
            throw ValidationError("--reference \(entry) is not NAME=SUBJECT:VERSION (e.g. common/money.proto=money-value:1)")
        }
    }

    private func parse(_ entry: String) -> [String: Any]? {
        guard let equals = entry.firstIndex(of: "="), let colon = entry.lastIndex(of: ":"), equals < colon,
              let version = Int(entry[entry.index(after: colon)...]), version >= 1 else { return nil }
        return ["name": String(entry[..<equals]), "subject": String(entry[entry.index(after: equals)..<colon]), "version": version]
    }

    /// The request body: schema text, type and references; compiled locally first with -I.
    func body() throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("cannot read \(file)")
        }
        if !importPaths.isEmpty {
            let name = (file as NSString).lastPathComponent
            do {
                _ = try ProtoCompiler(importPaths: importPaths, sources: [name: text]).compile([name])
            } catch {
                throw ValidationError("\(file) does not compile:\n\(error.description)")
            }
        }
        return ["schemaType": "PROTOBUF", "schema": text, "references": reference.compactMap(parse)]
    }
}

/// `ganglion schema register SUBJECT FILE.proto`.
struct SchemaRegisterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register", abstract: "Register a .proto as the next version of a subject (refused with every violation when incompatible).")
    @OptionGroup var node: NodeAddress
    @Argument(help: "The subject, e.g. orders-value.") var subject: String
    @OptionGroup var schema: SchemaFileOptions

    func run() async throws {
        do {
            let client = try await node.client()
            defer { client.close() }
            let answer = try await client.registry("POST", ["subjects", subject, "versions"], body: try schema.body()) as? [String: Any]
            print("registered \(subject) version \(answer?["version"] as? Int ?? 0) with schema id \(answer?["id"] as? Int ?? 0)")
        } catch let error as RegistryCallError { throw schemaFailure(error) } catch { throw failCommand(error) }
    }
}

/// `ganglion schema check SUBJECT FILE.proto`.
struct SchemaCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Say whether a .proto could be registered under a subject, with every violation (registers nothing).")
    @OptionGroup var node: NodeAddress
    @Argument(help: "The subject.") var subject: String
    @OptionGroup var schema: SchemaFileOptions

    func run() async throws {
        do {
            let client = try await node.client()
            defer { client.close() }
            let answer = try await client.registry("POST", ["compatibility", "subjects", subject, "versions"],
                                                   query: ["verbose": "true"], body: try schema.body()) as? [String: Any]
            if answer?["is_compatible"] as? Bool == true {
                print("compatible: \(subject) would accept this schema")
                return
            }
            print("incompatible with \(subject):")
            for message in answer?["messages"] as? [String] ?? [] { print("  \(message)") }
            throw ExitCode(1)
        } catch let error as RegistryCallError { throw schemaFailure(error) }
        catch let exit as ExitCode { throw exit } catch { throw failCommand(error) }
    }
}

/// `ganglion schema list [SUBJECT]`.
struct SchemaListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List subjects, or a subject's versions.")
    @OptionGroup var node: NodeAddress
    @Argument(help: "A subject: list its versions.") var subject: String?
    @Flag(help: "Include soft-deleted subjects or versions.") var deleted = false

    func run() async throws {
        do {
            let client = try await node.client()
            defer { client.close() }
            let query = ["deleted": deleted ? "true" : "false"]
            if let subject {
                let versions = try await client.registry("GET", ["subjects", subject, "versions"], query: query) as? [Int] ?? []
                print(versions.map(String.init).joined(separator: "\n"))
            } else {
                let subjects = try await client.registry("GET", ["subjects"], query: query) as? [String] ?? []
                print(subjects.joined(separator: "\n"))
            }
        } catch let error as RegistryCallError { throw schemaFailure(error) } catch { throw failCommand(error) }
    }
}

/// `ganglion schema get SUBJECT [VERSION]` or `ganglion schema get --id N`.
struct SchemaGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a subject's version (default latest), or a schema by id.")
    @OptionGroup var node: NodeAddress
    @Argument(help: "The subject.") var subject: String?
    @Argument(help: "The version (default latest).") var version = "latest"
    @Option(help: "A global schema id instead of a subject.") var id: Int?

    func validate() throws {
        if (subject == nil) == (id == nil) { throw ValidationError("give a subject or --id, not both") }
    }

    func run() async throws {
        do {
            let client = try await node.client()
            defer { client.close() }
            if let id {
                let answer = try await client.registry("GET", ["schemas", "ids", String(id)]) as? [String: Any]
                print("schema id \(id)")
                print(answer?["schema"] as? String ?? "")
            } else if let subject {
                let answer = try await client.registry("GET", ["subjects", subject, "versions", version]) as? [String: Any]
                print("\(subject) version \(answer?["version"] as? Int ?? 0), schema id \(answer?["id"] as? Int ?? 0)")
                print(answer?["schema"] as? String ?? "")
            }
        } catch let error as RegistryCallError { throw schemaFailure(error) } catch { throw failCommand(error) }
    }
}

/// `ganglion schema config [SUBJECT] [--level L]`.
struct SchemaConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Show or set the compatibility level, globally or of a subject.")
    @OptionGroup var node: NodeAddress
    @Argument(help: "The subject (default: the global level).") var subject: String?
    @Option(help: "Set the level: BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE.") var level: String?

    func run() async throws {
        do {
            let client = try await node.client()
            defer { client.close() }
            let path = ["config"] + (subject.map { [$0] } ?? [])
            if let level {
                let answer = try await client.registry("PUT", path, body: ["compatibility": level]) as? [String: Any]
                print("\(subject ?? "global") level: \(answer?["compatibility"] as? String ?? level)")
            } else {
                let answer = try await client.registry("GET", path, query: ["defaultToGlobal": "true"]) as? [String: Any]
                print("\(subject ?? "global") level: \(answer?["compatibilityLevel"] as? String ?? "?")")
            }
        } catch let error as RegistryCallError { throw schemaFailure(error) } catch { throw failCommand(error) }
    }
}

/// `ganglion schema delete SUBJECT [VERSION] [--permanent]`.
struct SchemaDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Soft-delete a subject or one version; --permanent removes what was soft-deleted.")
    @OptionGroup var node: NodeAddress
    @Argument(help: "The subject.") var subject: String
    @Argument(help: "Only this version.") var version: String?
    @Flag(help: "Remove for good (after a soft delete).") var permanent = false

    func run() async throws {
        do {
            let client = try await node.client()
            defer { client.close() }
            let path = ["subjects", subject] + (version.map { ["versions", $0] } ?? [])
            let answer = try await client.registry("DELETE", path, query: ["permanent": permanent ? "true" : "false"])
            let versions = (answer as? [Int]) ?? (answer as? Int).map { [$0] } ?? []
            print("\(permanent ? "removed" : "soft-deleted") \(subject) version(s) \(versions.map(String.init).joined(separator: ", "))")
        } catch let error as RegistryCallError { throw schemaFailure(error) } catch { throw failCommand(error) }
    }
}

/// Prints a registry refusal (`error 409: …`, violations one per line) and exits 1.
func schemaFailure(_ error: RegistryCallError) -> ExitCode {
    var text = "error \(error.code): \(error.message)"
    if let details = error.message.range(of: "details: [") {
        text = "error \(error.code): \(error.message[..<details.lowerBound])\n  "
            + error.message[details.upperBound...].dropLast().replacingOccurrences(of: "., ", with: ".\n  ")
    }
    FileHandle.standardError.write(Data((text + "\n").utf8))
    return ExitCode.failure
}
