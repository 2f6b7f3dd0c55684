import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// A client with too many produce requests in flight gets `BUSY` with a retry hint, never an
/// unbounded queue; everything acknowledged is stored, nothing refused is.
final class BackpressureTests: XCTestCase {
    func testAFullWindowAnswersBusyAndLosesNothingAcknowledged() async throws {
        let directory = NSTemporaryDirectory() + "ganglion-busy-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try startTestNode(directory) { $0.durability = .everyBatch; $0.producerWindow = 4 }
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("burst", partitions: 1)
        var builder = RecordBatchBuilder()
        builder.append(key: nil, value: [UInt8](repeating: 7, count: 100), timestamp: 1)
        let batch = builder.build()
        let outcomes = try await withThrowingTaskGroup(of: Ganglion_V1_ErrorCode.self) { group in
            for _ in 0..<400 {
                group.addTask {
                    do {
                        try await client.produce(topic: "burst", partition: 0, batch: batch)
                        return .none
                    } catch let error as GanglionError {
                        if error.code == .busy { XCTAssertEqual(error.retryAfterMilliseconds, 5) }
                        return error.code
                    }
                }
            }
            return try await group.reduce(into: [Ganglion_V1_ErrorCode]()) { $0.append($1) }
        }
        let accepted = outcomes.filter { $0 == .none }.count
        let busy = outcomes.filter { $0 == .busy }.count
        print("window 4: \(accepted) accepted, \(busy) answered busy")
        XCTAssertEqual(accepted + busy, 400)
        XCTAssertGreaterThan(busy, 0)
        let (fetched, _) = try await client.fetch(topic: "burst", partition: 0, offset: 0)
        XCTAssertEqual(fetched.logEndOffset, Int64(accepted), "exactly the acknowledged batches are stored")
    }
}
