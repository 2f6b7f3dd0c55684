import Foundation
import Ganglion

/// A `ganglion node` child process for the benchmark: this executable, a temporary data
/// directory, OS-chosen ports; stopped (and its directory removed) by ``stop()`` or when the
/// benchmark is interrupted (``BenchScratch``), and stopping by itself, its directory removed,
/// if the benchmark dies first (`--exit-with-parent`, `--discard-data-with-parent`).
final class BenchNodeProcess {
    let process = Process()
    let directory: String
    private(set) var api = ""

    /// Starts a node (no demo agents) with the fsync policy `fsync` and waits until it wrote its endpoints;
    /// `api` fixes its request endpoint (default: an OS-chosen port), `extra` adds arguments;
    /// `directory` reuses a data directory (a restart), a new temporary one by default.
    init(fsync: String, api requested: String = "tcp://127.0.0.1:0", extra: [String] = [], directory reused: String? = nil) throws {
        directory = reused ?? NSTemporaryDirectory() + "ganglion-bench-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        BenchScratch.keep(path: directory)
        if reused != nil { try? FileManager.default.removeItem(atPath: directory + "/endpoints.json") }
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        // No demo agents: what is measured is the node, with nothing of its own running beside it
        // (their start-up — topics, groups, shards — overlapped the first runs).
        process.arguments = ["node", "--data-dir", directory, "--api", requested, "--pub", "tcp://127.0.0.1:0",
                             "--http", "127.0.0.1:0", "--fsync", fsync, "--exit-with-parent", String(getpid()), "--discard-data-with-parent"]
            + (extra.contains("--no-demo") ? [] : ["--no-demo"]) + extra
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        BenchScratch.keep(process: process)
        let deadline = Date().addingTimeInterval(20)
        var found: String?
        while found == nil && Date() < deadline && process.isRunning {
            if let data = FileManager.default.contents(atPath: directory + "/endpoints.json"),
               let endpoints = try? JSONSerialization.jsonObject(with: data) as? [String: String] {
                found = endpoints["api"]
            } else {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        guard let found else {
            stop()
            throw GanglionError(code: .internal, message: "the benchmark's node (fsync \(fsync)) did not start within 20 s")
        }
        api = found
    }

    /// SIGKILL at once (the data stays, for a restart).
    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        BenchScratch.forget(process: process)
    }

    /// SIGTERM, then SIGKILL after 10 s; removes the data.
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        BenchScratch.forget(process: process)
        try? FileManager.default.removeItem(atPath: directory)
        BenchScratch.forget(path: directory)
    }
}
