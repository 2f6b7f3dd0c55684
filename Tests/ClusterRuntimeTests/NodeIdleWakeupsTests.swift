import Foundation
import GanglionClients
import GanglionWire
import XCTest
@testable import ClusterRuntime

/// An idle node's socket thread sleeps: its timers are due only when something waits for them
/// (a long-poll fetch's deadline), not polled (every wake-up of that thread is one a produce on
/// its way to the stream may queue behind).
final class NodeIdleWakeupsTests: XCTestCase {
    func testAnIdleNodesSocketThreadIsNotWokenByPolling() async throws {
        let directory = NSTemporaryDirectory() + "ganglion-idle-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("idle", partitions: 1)
        try await Task.sleep(for: .milliseconds(300))

        let before = try Self.socketThreadSwitches()
        try await Task.sleep(for: .seconds(2))
        let woken = try Self.socketThreadSwitches() - before
        // A 10 ms poll woke it 200 times more in these 2 s (268 in all); its periodic work —
        // the cluster of one's controller and replica passes every 50–100 ms, group sessions
        // every 500 ms — about 70.
        XCTAssertLessThan(woken, 130, "the idle node's socket thread was switched to \(woken) times in 2 s")

        // A long-poll fetch that nothing answers still ends at its deadline, not later.
        var request = Ganglion_V1_FetchRequest()
        request.topic = "idle"
        request.offset = 0
        request.maxBytes = 1 << 20
        request.maxWaitMs = 300
        let started = ContinuousClock.now
        let (response, frames) = try await client.call(.fetch, request, reply: Ganglion_V1_FetchResponse.self)
        let waited = ContinuousClock.now - started
        XCTAssertEqual(response.nextOffset, 0)
        XCTAssertTrue(frames[0].isEmpty)
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(290), "answered before its deadline")
        XCTAssertLessThan(waited, .milliseconds(1500), "answered long after its deadline")
    }

    /// Context switches to the node socket threads of this process (`node.api`), summed.
    static func socketThreadSwitches() throws -> Int {
        var total = 0
        for task in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") {
            let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            guard comm.trimmingCharacters(in: .whitespacesAndNewlines) == "node.api",
                  let status = try? String(contentsOfFile: "/proc/self/task/\(task)/status", encoding: .utf8) else { continue }
            for line in status.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches") || line.hasPrefix("nonvoluntary_ctxt_switches") {
                total += Int(line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        return total
    }
}
