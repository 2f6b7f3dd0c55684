import ArgumentParser
import Foundation
import Ganglion

/// How CLI commands find a node: `--node`, then `GANGLION_NODE`, then `./data/endpoints.json`
/// (a local node's), then `tcp://127.0.0.1:7400`.
struct NodeAddress: ParsableArguments {
    @Option(name: .customLong("node"), help: "The node's request endpoint (default: $GANGLION_NODE, ./data/endpoints.json, tcp://127.0.0.1:7400).")
    var endpoint: String?

    /// The request endpoint to use.
    var resolved: String {
        if let endpoint { return endpoint }
        if let environment = ProcessInfo.processInfo.environment["GANGLION_NODE"], !environment.isEmpty { return environment }
        if let data = FileManager.default.contents(atPath: "./data/endpoints.json"),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: String], let api = object["api"] {
            return api
        }
        return "tcp://127.0.0.1:7400"
    }

    /// A connected client.
    func client() throws -> GanglionClient { try GanglionClient(endpoint: resolved, timeout: .seconds(10)) }
}

/// Prints a node error as `error: code: message` and exits non-zero.
func failCommand(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    return ExitCode.failure
}
