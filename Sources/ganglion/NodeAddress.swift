import ArgumentParser
import Foundation
import Ganglion
import ZeroMQ

/// How CLI commands find a node: `--node`, then `GANGLION_NODE`, then `./data/endpoints.json`
/// (a local node's), then `tcp://127.0.0.1:7400`. A comma-separated list names bootstrap
/// nodes: the first that answers is used (any node serves any request, forwarding metadata
/// writes to the controller leader).
struct NodeAddress: ParsableArguments {
    @Option(name: .customLong("node"),
            help: "The node's request endpoint, or a comma-separated list of them (default: $GANGLION_NODE, ./data/endpoints.json, tcp://127.0.0.1:7400).")
    var endpoint: String?

    @Option(help: "A cluster with security on: the directory with its public key (cluster.pub) and yours (PRINCIPAL.key) (default: $GANGLION_SECURITY_DIR; none: plain text).")
    var securityDir: String?

    @Option(name: .customLong("as"), help: "The principal to act as, whose key is <security-dir>/PRINCIPAL.key (default: $GANGLION_PRINCIPAL, or admin).")
    var principal: String?

    /// The CURVE credentials to present, when a security directory is given.
    func credentials() throws -> CurveClientCredentials? {
        let environment = ProcessInfo.processInfo.environment
        guard let directory = securityDir ?? environment["GANGLION_SECURITY_DIR"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        let name = principal ?? environment["GANGLION_PRINCIPAL"].flatMap { $0.isEmpty ? nil : $0 } ?? "admin"
        do {
            return try CurveKeyFiles.clientCredentials(directory: directory, principal: name)
        } catch {
            throw ValidationError("--security-dir: \(error)")
        }
    }

    /// The request endpoint(s) to use, as given.
    var resolved: String {
        if let endpoint { return endpoint }
        if let environment = ProcessInfo.processInfo.environment["GANGLION_NODE"], !environment.isEmpty { return environment }
        if let data = FileManager.default.contents(atPath: "./data/endpoints.json"),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: String], let api = object["api"] {
            return api
        }
        return "tcp://127.0.0.1:7400"
    }

    /// The endpoints of the list.
    var endpoints: [String] {
        resolved.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A client of the first node of the list that answers (one endpoint: connected at once).
    func client(timeout: Duration = .seconds(10)) async throws -> GanglionClient {
        let endpoints = self.endpoints, credentials = try credentials()
        guard endpoints.count > 1 else { return try GanglionClient(endpoint: endpoints.first ?? resolved, timeout: timeout, credentials: credentials) }
        var failures: [String] = []
        for endpoint in endpoints {
            let client = try GanglionClient(endpoint: endpoint, timeout: timeout, credentials: credentials)
            do {
                _ = try await client.clusterStatus(timeout: .milliseconds(1_500))
                return client
            } catch {
                client.close()
                failures.append("\(endpoint): \(error)")
            }
        }
        throw ValidationError("no node of --node answered: " + failures.joined(separator: "; "))
    }
}

/// Prints a node error as `error: code: message` and exits non-zero.
func failCommand(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    return ExitCode.failure
}
