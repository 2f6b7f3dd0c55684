import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Consumer processes (`ganglion tail --group`) against a node process: each event consumed once
/// by the group in steady state with per-key order; a consumer killed with SIGKILL loses its
/// partitions to the others and nothing is lost (only uncommitted events come again).
final class ConsumerProcessTests: XCTestCase {
    private var directory = ""
    private var processes: [Process] = []

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-consumers-" + UUID().uuidString }

    override func tearDown() {
        for process in processes where process.isRunning { process.terminate() }
        for process in processes { process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func launch(_ arguments: [String], output: URL? = nil) throws -> Process {
        let process = Process()
        process.executableURL = try ganglionExecutable(self)
        process.arguments = arguments
        if let output {
            FileManager.default.createFile(atPath: output.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: output)
        } else {
            process.standardOutput = FileHandle.nullDevice
        }
        process.standardError = FileHandle.nullDevice
        try process.run()
        processes.append(process)
        return process
    }

    /// (id, key, partition, offset) of every line a consumer printed.
    private func lines(_ file: URL) -> [(String, String, Int, Int)] {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let event = object["event"] as? [String: Any], let id = event["id"] as? String,
                  let key = object["key"] as? String, let partition = object["partition"] as? Int,
                  let offset = object["offset"] as? Int else { return nil }
            return (id, key, partition, offset)
        }
    }

    private func publish(_ client: GanglionClient, _ range: Range<Int>) async throws {
        let events = range.map { index -> EventEnvelope in
            var event = EventEnvelope()
            event.id = "evt-\(index)"
            event.type = "test"
            event.key = Data("key-\(index % 12)".utf8)
            event.data = Data("\(index)".utf8)
            return event
        }
        _ = try await client.publish(topic: "jobs", events: events)
    }

    func testAGroupOfConsumerProcessesSharesTheWorkAndSurvivesSIGKILL() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try launch(["node", "--data-dir", directory, "--api", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0", "--fsync", "interval",
                    "--group-session-timeout-ms", "2000"])
        var api: String?
        for _ in 0..<400 where api == nil {
            if let data = FileManager.default.contents(atPath: directory + "/endpoints.json"),
               let endpoints = try? JSONSerialization.jsonObject(with: data) as? [String: String] { api = endpoints["api"] }
            try await Task.sleep(for: .milliseconds(25))
        }
        let endpoint = try XCTUnwrap(api, "the node did not start")
        let client = try GanglionClient(endpoint: endpoint)
        defer { client.close() }
        try await client.createTopic("jobs", partitions: 6)

        let outputs = (0..<3).map { URL(fileURLWithPath: directory + "/consumer-\($0).jsonl") }
        let consumers = try outputs.map { try launch(["tail", "jobs", "--group", "workers", "--node", endpoint], output: $0) }
        // Wait until the group has settled (three stable members, two partitions each): a
        // handover while events flow may redeliver, which is fine but not "steady state".
        var describe = Ganglion_V1_DescribeGroupRequest()
        describe.group = "workers"
        for _ in 0..<400 {
            let group = try await client.call(.describeGroup, describe, reply: Ganglion_V1_DescribeGroupResponse.self).0
            if group.members.count == 3,
               group.members.allSatisfy({ $0.state == "stable" && $0.assigned.flatMap(\.partitions).count == 2 }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await publish(client, 0..<600)
        func consumed() -> [(String, String, Int, Int)] { outputs.flatMap(lines) }
        for _ in 0..<200 where Set(consumed().map(\.0)).count < 600 { try await Task.sleep(for: .milliseconds(50)) }
        let steady = consumed()
        XCTAssertEqual(Set(steady.map(\.0)).count, 600, "every event consumed")
        XCTAssertEqual(steady.count, 600, "each exactly once in steady state")
        XCTAssertGreaterThan(outputs.filter { !lines($0).isEmpty }.count, 1, "the work is shared")
        for output in outputs {
            var lastOffset: [Int: Int] = [:]
            for (_, _, partition, offset) in lines(output) {
                XCTAssertGreaterThan(offset, lastOffset[partition] ?? -1, "per-partition (and so per-key) order")
                lastOffset[partition] = offset
            }
        }

        kill(consumers[0].processIdentifier, SIGKILL)
        try await publish(client, 600..<900)
        for _ in 0..<400 where Set(consumed().map(\.0)).count < 900 { try await Task.sleep(for: .milliseconds(50)) }
        let after = consumed()
        XCTAssertEqual(Set(after.map(\.0)), Set((0..<900).map { "evt-\($0)" }), "nothing lost after a consumer died")
        print("consumer processes: \(after.count) deliveries for 900 events (\(after.count - 900) redelivered after SIGKILL)")
    }
}
