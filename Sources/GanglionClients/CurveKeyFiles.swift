import Foundation
import ZeroMQ

/// CURVE key files as `ganglion security keygen` writes them: `NAME.key` holds a principal's key
/// pair (readable by its owner only: mode 0600), `NAME.pub` its public key alone, to hand to
/// others. Each is a few `name = Z85` lines; lines starting with `#` are comments.
///
/// A security directory (`--security-dir`) holds `cluster.key`/`cluster.pub` (the key pair every
/// node of the cluster serves and connects with; clients need only `cluster.pub`) and one pair
/// per principal made there, e.g. `admin.key`/`admin.pub`.
public enum CurveKeyFiles {
    /// The file stem of the cluster's key pair in a security directory.
    public static let clusterName = "cluster"

    /// Why a key file could not be used.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        /// What is wrong, naming the file.
        public let description: String
    }

    /// Writes `NAME.key` (0600) and `NAME.pub` into `directory` (made if missing); refuses to
    /// overwrite an existing key unless `replace`.
    public static func write(_ keys: CurveKeyPair, name: String, directory: String, replace: Bool = false) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let secretPath = path(directory, name, "key"), publicPath = path(directory, name, "pub")
        guard replace || !FileManager.default.fileExists(atPath: secretPath) else {
            throw Failure(description: "\(secretPath) exists; remove it first or choose another name (a key is never overwritten)")
        }
        let secret = "# Ganglion CURVE key pair of \(name). SECRET: keep it readable by its owner only.\n"
            + "public-key = \(keys.publicKey.z85)\nsecret-key = \(keys.secretKey.z85)\n"
        guard FileManager.default.createFile(atPath: secretPath, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Failure(description: "cannot write \(secretPath)")
        }
        let publicText = "# Ganglion CURVE public key of \(name). Not secret.\npublic-key = \(keys.publicKey.z85)\n"
        guard FileManager.default.createFile(atPath: publicPath, contents: Data(publicText.utf8), attributes: [.posixPermissions: 0o644]) else {
            throw Failure(description: "cannot write \(publicPath)")
        }
    }

    /// The key pair in the `.key` file at `path`.
    public static func readKeyPair(_ path: String) throws -> CurveKeyPair {
        let fields = try read(path)
        guard let secretText = fields["secret-key"] else { throw Failure(description: "\(path) has no secret-key line: not a key pair file") }
        let secret = try key(secretText, field: "secret-key", path: path)
        let derived = try CurveKeyPair.publicKey(for: secret)
        if let publicText = fields["public-key"], try key(publicText, field: "public-key", path: path) != derived {
            throw Failure(description: "\(path): its public-key does not belong to its secret-key")
        }
        return CurveKeyPair(publicKey: derived, secretKey: secret)
    }

    /// The public key in the `.pub` (or `.key`) file at `path`.
    public static func readPublicKey(_ path: String) throws -> CurveKey {
        let fields = try read(path)
        guard let text = fields["public-key"] else { throw Failure(description: "\(path) has no public-key line") }
        return try key(text, field: "public-key", path: path)
    }

    /// `directory/name.suffix`.
    public static func path(_ directory: String, _ name: String, _ suffix: String) -> String {
        (directory.hasSuffix("/") ? directory : directory + "/") + name + "." + suffix
    }

    /// A client's credentials from a security directory: its key pair `NAME.key` and the
    /// cluster's public key `cluster.pub`.
    public static func clientCredentials(directory: String, principal: String) throws -> CurveClientCredentials {
        CurveClientCredentials(keys: try readKeyPair(path(directory, principal, "key")),
                               serverKey: try readPublicKey(path(directory, clusterName, "pub")))
    }

    private static func read(_ path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "cannot read key file \(path) (missing, or not readable by this user)")
        }
        var fields: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            let parts = trimmed.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw Failure(description: "\(path): line \"\(trimmed.prefix(20))…\" is not name = value") }
            fields[parts[0]] = parts[1]
        }
        return fields
    }

    private static func key(_ text: String, field: String, path: String) throws -> CurveKey {
        do {
            return try CurveKey(z85: text)
        } catch {
            throw Failure(description: "\(path): \(field) is not a 40-character Z85 key")
        }
    }
}
