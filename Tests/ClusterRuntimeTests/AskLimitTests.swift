import ClusterCore
import Foundation
import Ganglion
import GanglionWire
import XCTest
@testable import ClusterRuntime

/// Asks waiting for replies are bounded per node: past the limit an ask is refused at once with
/// BUSY (nothing stored), instead of every waiter holding memory and a task until its timeout.
final class AskLimitTests: XCTestCase {
    func testAsksPastTheLimitAreBusy() async throws {
        let directory = NSTemporaryDirectory() + "ganglion-asklimit-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try startTestNode(directory) { $0.maxWaitingAsks = 2 }
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        // An agent's topics and a member of its group, but no handler: asks wait until they time out.
        try await client.createTopic("svc", partitions: 1)
        try await client.createTopic("svc.replies", partitions: 1)
        var join = Ganglion_V1_GroupHeartbeatRequest()
        join.group = "svc"
        join.subscribedTopics = ["svc"]
        _ = try await client.call(.groupHeartbeat, join, reply: Ganglion_V1_GroupHeartbeatResponse.self)
        let codes = await withTaskGroup(of: Ganglion_V1_ErrorCode.self) { group in
            for index in 0..<3 {
                group.addTask {
                    do {
                        if index == 2 { try await Task.sleep(for: .milliseconds(300)) }  // the first two are waiting by then
                        _ = try await client.ask(agent: "svc", key: "k\(index)", timeout: .milliseconds(1_500))
                        return .none
                    } catch let error as GanglionError {
                        return error.code
                    } catch {
                        return .internal
                    }
                }
            }
            var codes: [Ganglion_V1_ErrorCode] = []
            for await code in group { codes.append(code) }
            return codes
        }
        XCTAssertEqual(codes.sorted { $0.rawValue < $1.rawValue }, [.busy, .timeout, .timeout])
        let stored = try await client.readAll(topic: "svc")
        XCTAssertEqual(stored.count, 2, "the refused ask stored nothing")
    }
}
