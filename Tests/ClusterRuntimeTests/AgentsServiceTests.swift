import ClusterRuntime
import Foundation
@testable import Ganglion
import Logging
import XCTest

/// The node's agents service outlasting a node that does not answer yet.
final class AgentsServiceTests: XCTestCase {
    /// Records how the service's run ended (nil while it runs).
    actor Outcome {
        var ended: String?
        func end(_ text: String) { ended = text }
    }

    func testAgentsKeepTryingToMakeTheirTopicsUntilTheNodeAnswers() async throws {
        let directory = NSTemporaryDirectory() + "ganglion-agents-service-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ports = try freeLoopbackPorts(2)
        let endpoint = "tcp://127.0.0.1:\(ports[0])"
        let service = AgentsService(endpoint: endpoint, topics: [(name: "late-topic", partitions: 2)], agents: [], names: [],
                                    logger: Logger(label: "test"), clientTimeout: .milliseconds(400))
        let outcome = Outcome()
        let running = Task {
            do {
                try await service.run()
                await outcome.end("returned")
            } catch {
                await outcome.end("failed: \(error)")
            }
        }
        defer { running.cancel() }
        // Several of the client's timeouts pass with nothing answering (a controller being elected).
        try await Task.sleep(for: .seconds(2))
        let early = await outcome.ended
        XCTAssertNil(early, "the service ended while its node did not answer yet")
        let node = try startTestNode(directory) { configuration in
            configuration.apiEndpoint = endpoint
            configuration.pubEndpoint = "tcp://127.0.0.1:\(ports[1])"
        }
        defer { node.stop() }
        let deadline = Date(timeIntervalSinceNow: 10)
        while node.metadataState.topics["late-topic"] == nil && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        XCTAssertEqual(node.metadataState.topics["late-topic"]?.partitions, 2, "the topic is made once the node answers")
    }
}
