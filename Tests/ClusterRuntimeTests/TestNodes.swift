import ClusterRuntime
import Foundation

/// A node for a test: data in `directory`, OS-chosen ports, settings adjusted by `change`.
func startTestNode(_ directory: String, _ change: (inout NodeConfiguration) -> Void = { _ in }) throws -> Node {
    var configuration = NodeConfiguration()
    configuration.dataDirectory = directory
    configuration.apiEndpoint = "tcp://127.0.0.1:0"
    configuration.pubEndpoint = "tcp://127.0.0.1:0"
    change(&configuration)
    return try Node(configuration: configuration)
}
