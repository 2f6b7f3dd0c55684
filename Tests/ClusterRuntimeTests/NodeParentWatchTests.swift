import Foundation
import XCTest

/// A node started by another process for a while (the benchmark's nodes) with
/// `--exit-with-parent PID` stops by itself when that process dies without stopping it (killed,
/// or crashed), instead of running on as an orphan holding its ports and data.
final class NodeParentWatchTests: XCTestCase {
    func testANodeWhoseParentIsKilledStops() throws {
        let directory = NSTemporaryDirectory() + "ganglion-parent-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The parent: a shell that starts the node in the background, writes its PID and waits.
        let parent = Process()
        parent.executableURL = URL(fileURLWithPath: "/bin/sh")
        parent.arguments = ["-c", "\"$0\" node --data-dir \"$1\" --api tcp://127.0.0.1:0 --pub tcp://127.0.0.1:0 --http 127.0.0.1:0 "
                            + "--no-demo --exit-with-parent $$ >/dev/null 2>&1 & echo $! > \"$1/child.pid\"; wait",
                            try ganglionExecutable(self).path, directory]
        try parent.run()
        var child: pid_t = 0
        var ready = false
        for _ in 0..<400 where !ready {
            if child == 0, let text = FileManager.default.contents(atPath: directory + "/child.pid") {
                child = pid_t(String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            }
            ready = child != 0 && FileManager.default.fileExists(atPath: directory + "/endpoints.json")
            if !ready { Thread.sleep(forTimeInterval: 0.05) }
        }
        // Whatever happens below, the node does not outlive the test.
        defer { if child != 0 && Self.isAlive(child) { kill(child, SIGKILL) } }
        XCTAssertTrue(ready, "the node started under its parent")
        Thread.sleep(forTimeInterval: 0.6)
        XCTAssertTrue(Self.isAlive(child), "the node runs on while its parent lives")
        // Not waited for with `waitUntilExit`: Foundation sees a child's end when a descriptor
        // it shares with it closes, and the node inherited that descriptor.
        kill(parent.processIdentifier, SIGKILL)
        var stopped = false
        for _ in 0..<200 where !stopped {
            stopped = !Self.isAlive(child)
            if !stopped { Thread.sleep(forTimeInterval: 0.05) }
        }
        XCTAssertTrue(stopped, "the node stops within 10 s of its parent's death")
    }

    /// Whether `pid` runs (a zombie waiting for its new parent to reap it does not).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        guard let close = stat.lastIndex(of: ")") else { return true }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
