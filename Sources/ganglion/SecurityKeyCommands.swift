import ArgumentParser
import Foundation
import Ganglion
import ZeroMQ

/// `ganglion security`: keys, principals and HTTP tokens of a cluster with security on.
/// (Subcommands that talk to a node live in their own files and are listed here.)
struct SecurityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "security",
        abstract: "Keys, principals and HTTP tokens of a cluster with security on.",
        discussion: """
            A cluster with security on (`ganglion node --security-dir DIR`) speaks CurveZMQ on every socket. \
            `security init DIR` makes the keys once: cluster.key (the nodes' key pair: copy it to every node, \
            to no one else), cluster.pub (give it to clients) and admin.key (a super user's key pair). \
            Clients act as a principal with `--security-dir DIR --as NAME` (its key pair is DIR/NAME.key).
            """,
        subcommands: [SecurityInitCommand.self, SecurityKeygenCommand.self, SecurityPrincipalCommand.self, SecurityTokenCommand.self])
}

/// `ganglion security init DIR`: the keys a new secured cluster needs, made once.
struct SecurityInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Make a cluster's keys in DIR: cluster.key/.pub and admin.key/.pub (existing keys are kept).")

    @Argument(help: "The directory to write the keys into (made if missing).") var directory: String
    @Option(help: "The super user's principal name.") var admin = "admin"

    func run() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in [CurveKeyFiles.clusterName, admin] {
            let path = CurveKeyFiles.path(directory, name, "key")
            if FileManager.default.fileExists(atPath: path) {
                _ = try CurveKeyFiles.readKeyPair(path)  // a damaged key is said now, not at the node's start
                print("kept \(path)")
                continue
            }
            try CurveKeyFiles.write(try CurveKeyPair.generate(), name: name, directory: directory)
            print("wrote \(path) (secret) and \(CurveKeyFiles.path(directory, name, "pub"))")
        }
        print("""
            start every node with --security-dir \(directory) (it reads cluster.key; \(admin) is a super user);
            act as \(admin) with: ganglion <command> --security-dir \(directory) --as \(admin)
            """)
    }
}

/// `ganglion security keygen NAME`: a principal's key pair.
struct SecurityKeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a CURVE key pair: NAME.key (secret, mode 0600) and NAME.pub.",
        discussion: """
            Give NAME.key to the principal; register NAME.pub with \
            `ganglion security principal add NAME --public-key-file DIR/NAME.pub`. The secret key is never printed.
            """)

    @Argument(help: "The principal's name (letters, digits, '.', '_', '-').") var name: String
    @Option(help: "The directory to write the files into.") var dir = "."

    func validate() throws {
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }), name.isASCII else {
            throw ValidationError("a principal's name is 1–64 ASCII letters, digits, '.', '_' or '-'; \"\(name)\" is not")
        }
    }

    func run() throws {
        let keys = try CurveKeyPair.generate()
        try CurveKeyFiles.write(keys, name: name, directory: dir)
        print("wrote \(CurveKeyFiles.path(dir, name, "key")) (secret) and \(CurveKeyFiles.path(dir, name, "pub"))")
        print("public key: \(keys.publicKey.z85)")
    }
}

extension String {
    fileprivate var isASCII: Bool { utf8.allSatisfy { $0 < 0x80 } }
}
