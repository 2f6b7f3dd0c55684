import Foundation
import XCTest

/// `ganglion bench` starts node processes with data in temporary directories. Stopped midway —
/// Ctrl-C, a SIGTERM, or killed outright — it leaves no node running and no data behind (a
/// produce run writes hundreds of megabytes a second).
final class BenchInterruptTests: XCTestCase {
    func testAnInterruptedBenchmarkStopsItsNodesAndRemovesTheirData() throws {
        try interrupt(with: SIGINT, expectedStatus: 128 + SIGINT)
    }

    func testATerminatedBenchmarkStopsItsNodesAndRemovesTheirData() throws {
        try interrupt(with: SIGTERM, expectedStatus: 128 + SIGTERM)
    }

    func testABenchmarkKilledOutrightLeavesNoNodeAndNoData() throws {
        try interrupt(with: SIGKILL, expectedStatus: nil)
    }

    /// Starts a long produce run in a temporary directory of its own, sends `signal` once its
    /// node has data, and checks that the node stops and every directory the run made goes.
    private func interrupt(with signal: Int32, expectedStatus: Int32?) throws {
        let scratch = NSTemporaryDirectory() + "ganglion-bench-interrupt-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let bench = Process()
        bench.executableURL = try ganglionExecutable(self)
        bench.arguments = ["bench", "--only", "produce", "--sizes", "256", "--runs", "1", "--produce-seconds", "60"]
        bench.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": scratch]) { $1 }
        bench.standardOutput = FileHandle.nullDevice
        bench.standardError = FileHandle.nullDevice
        try bench.run()
        var nodes: [pid_t] = []
        // Whatever happens below, nothing the run started outlives the test.
        defer {
            if bench.isRunning { kill(bench.processIdentifier, SIGKILL) }
            for node in Self.processes(mentioning: scratch) { kill(node, SIGKILL) }
        }
        // Its node is up and holds data.
        var loaded = false
        for _ in 0..<600 where !loaded {
            nodes = Self.processes(mentioning: scratch)
            loaded = !nodes.isEmpty && Self.bytes(under: scratch) > 1 << 20
            if !loaded { Thread.sleep(forTimeInterval: 0.05) }
        }
        XCTAssertTrue(loaded, "the benchmark's node started and holds data under \(scratch)")
        kill(bench.processIdentifier, signal)
        var clean = false
        for _ in 0..<400 where !clean {
            let left = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
            clean = left.isEmpty && Self.processes(mentioning: scratch).isEmpty && !bench.isRunning
            if !clean { Thread.sleep(forTimeInterval: 0.05) }
        }
        XCTAssertFalse(bench.isRunning, "the benchmark ended")
        XCTAssertEqual(Self.processes(mentioning: scratch), [], "no node of the benchmark runs on")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? [], [], "nothing the benchmark made is left")
        if let expectedStatus, !bench.isRunning {
            XCTAssertEqual(bench.terminationStatus, expectedStatus, "the benchmark's exit status says it was interrupted")
        }
    }

    /// The processes (not zombies) whose command line mentions `text`.
    static func processes(mentioning text: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(pid_t.init).filter { pid in
            guard pid != getpid(), let line = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: line, as: UTF8.self).contains(text) && NodeParentWatchTests.isAlive(pid)
        }.sorted()
    }

    /// The bytes of the regular files under `directory`.
    static func bytes(under directory: String) -> Int {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return 0 }
        var total = 0
        while let path = walker.nextObject() as? String {
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + path)
            if attributes?[.type] as? FileAttributeType == .typeRegular { total += (attributes?[.size] as? Int) ?? 0 }
        }
        return total
    }
}
