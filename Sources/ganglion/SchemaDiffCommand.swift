import ArgumentParser
import Foundation
import ProtoSchema

/// `ganglion schema diff`: whether a new schema version may follow the earlier ones, by Confluent Schema Registry's
/// protobuf rules. Exits 0 when compatible, 1 when not (the violations are printed), 2 on bad input.
struct SchemaDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Check that a new protobuf schema version is compatible with earlier ones.",
        discussion: """
            OLD and NEW are descriptor sets as `protoc --descriptor_set_out=F.binpb --include_imports` writes them \
            (.pb or .binpb); the schema is the set's last file, the others are its imports. --history adds earlier \
            versions before OLD, oldest first; transitive levels check NEW against all of them, the others against \
            OLD only. Exit status: 0 compatible, 1 incompatible, 2 usage or input error.
            """
    )

    @Option(help: "BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE.")
    var level: String?

    @Flag(help: "Also require deleted field and enum value numbers to be reserved (buf's WIRE rules).")
    var strict = false

    @Option(name: [.customShort("I", allowingJoined: true), .customLong("include")],
            help: ArgumentHelp("Import directory for .proto inputs (repeatable).", valueName: "DIR"))
    var includeDirectories: [String] = []

    @Option(help: "Output: text or json.")
    var format = "text"

    @Option(parsing: .upToNextOption, help: "Versions before OLD, oldest first.")
    var history: [String] = []

    @Argument(help: ArgumentHelp("The latest registered version, then the candidate.", valueName: "OLD NEW"))
    var schemas: [String] = []

    func run() throws {
        let report: CompatibilityReport
        let json: Bool
        let earlierFiles = history + schemas.prefix(1)
        do {
            let level = try compatibilityLevel()
            json = try wantsJSON()
            guard schemas.count == 2 else {
                throw SchemaDiffInputError("give two schemas, OLD and NEW (got \(schemas.count))")
            }
            let earlier = try earlierFiles.map { path throws(SchemaDiffInputError) in try version(at: path) }
            report = CompatibilityChecker().check(try version(at: schemas[1]), against: earlier,
                                                  level: level, strict: strict)
        } catch let error as SchemaDiffInputError {
            FileHandle.standardError.write(Data("ganglion schema diff: \(error.message)\n".utf8))
            throw ExitCode(2)
        }
        print(json ? try Self.json(report, versions: earlierFiles) : Self.text(report, versions: earlierFiles))
        if !report.isCompatible { throw ExitCode.failure }
    }

    private func compatibilityLevel() throws(SchemaDiffInputError) -> CompatibilityLevel {
        guard let level else { throw SchemaDiffInputError("--level is required") }
        guard let parsed = CompatibilityLevel(rawValue: level.uppercased()) else {
            let known = CompatibilityLevel.allCases.map(\.rawValue).joined(separator: ", ")
            throw SchemaDiffInputError("unknown level \(level); use one of \(known)")
        }
        return parsed
    }

    private func wantsJSON() throws(SchemaDiffInputError) -> Bool {
        switch format {
        case "text": return false
        case "json": return true
        default: throw SchemaDiffInputError("unknown format \(format); use text or json")
        }
    }

    /// The schema version in the descriptor set file at `path`.
    /// A `.proto` file is compiled in-process, its imports resolved from its own directory first,
    /// then the `-I` directories; anything else is read as a descriptor set.
    private func version(at path: String) throws(SchemaDiffInputError) -> ProtoSchemaVersion {
        if path.hasSuffix(".proto") {
            let directory = (path as NSString).deletingLastPathComponent
            let compiler = ProtoCompiler(importPaths: [directory.isEmpty ? "." : directory] + includeDirectories)
            do {
                let output = try compiler.compile(paths: [path])
                return try ProtoSchemaVersion(descriptorSet: output.descriptorSet(includeImports: true),
                                              mainFileName: output.requestedFiles[0].name)
            } catch let errors as CompileErrors {
                throw SchemaDiffInputError(errors.description)
            } catch {
                throw SchemaDiffInputError("\(path): \(error)")
            }
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SchemaDiffInputError("\(path): cannot read the file")
        }
        do {
            return try ProtoSchemaVersion(serializedDescriptorSet: [UInt8](data))
        } catch {
            throw SchemaDiffInputError("\(path): \(error.message)")
        }
    }

    /// A verdict line, then (when incompatible) which file each version number is and one line per violation.
    private static func text(_ report: CompatibilityReport, versions: [String]) -> String {
        let strict = report.strict ? " (strict)" : ""
        let checked = Set(report.comparisons.map(\.historyIndex)).count
        guard !report.isCompatible else {
            return "compatible under \(report.level.rawValue)\(strict): checked against \(checked) version(s)"
        }
        let legend = versions.enumerated().map { "  version \($0 + 1): \($1)" }
        let lines = report.violations.map { "- \($0.message)" }
        return (["incompatible under \(report.level.rawValue)\(strict): \(report.violations.count) violation(s)"]
            + legend + lines).joined(separator: "\n")
    }

    private static func json(_ report: CompatibilityReport, versions: [String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(SchemaDiffJSON(report, versions: versions)), as: UTF8.self)
    }
}

/// A problem with the command's arguments or input files (exit status 2).
private struct SchemaDiffInputError: Error {
    /// What is wrong and what to do, for a person.
    var message: String

    init(_ message: String) { self.message = message }
}

/// The JSON form of a report, with sorted keys: `{"compatible":…,"level":…,"strict":…,"versions":[files, oldest
/// first],"violations":[{"location","message","new","old","path","rule"}…]}`.
private struct SchemaDiffJSON: Encodable {
    /// One violation; absent old or new values are written as null.
    struct Violation: Encodable {
        var rule: String
        var path: String
        var location: String
        var old: String?
        var new: String?
        var message: String

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(rule, forKey: .rule)
            try container.encode(path, forKey: .path)
            try container.encode(location, forKey: .location)
            try container.encode(old, forKey: .old)
            try container.encode(new, forKey: .new)
            try container.encode(message, forKey: .message)
        }

        private enum CodingKeys: String, CodingKey {
            case rule, path, location, old, new, message
        }
    }

    var compatible: Bool
    var level: String
    var strict: Bool
    var versions: [String]
    var violations: [Violation]

    init(_ report: CompatibilityReport, versions: [String]) {
        compatible = report.isCompatible
        level = report.level.rawValue
        strict = report.strict
        self.versions = versions
        violations = report.violations.map {
            Violation(rule: $0.rule.rawValue, path: $0.path, location: $0.location, old: $0.old, new: $0.new,
                      message: $0.message)
        }
    }
}
