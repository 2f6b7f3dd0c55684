import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// A node for a test: data in `directory`, OS-chosen ports, settings adjusted by `change`.
func startTestNode(_ directory: String, _ change: (inout NodeConfiguration) -> Void = { _ in }) throws -> Node {
    var configuration = NodeConfiguration()
    configuration.dataDirectory = directory
    configuration.apiEndpoint = "tcp://127.0.0.1:0"
    configuration.pubEndpoint = "tcp://127.0.0.1:0"
    change(&configuration)
    return try Node(configuration: configuration)
}

/// The `ganglion` executable next to the test bundle.
func ganglionExecutable(_ test: XCTestCase) throws -> URL {
    let bundle = Bundle(for: type(of: test)).bundleURL
    return try XCTUnwrap([bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("ganglion") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }, "build the ganglion executable first")
}

/// Starts `ganglion node` on OS-chosen ports with data in `directory` (fsync per batch; the demo
/// agents only with `demo`; `arguments` added, `environment` added to the test's) and waits for its
/// endpoints file; returns the process and its request endpoint.
func startNodeProcess(_ directory: String, test: XCTestCase, demo: Bool = false, arguments: [String] = [],
                      environment: [String: String] = [:]) throws -> (Process, String) {
    try? FileManager.default.removeItem(atPath: directory + "/endpoints.json")
    let process = Process()
    process.executableURL = try ganglionExecutable(test)
    process.arguments = ["node", "--data-dir", directory, "--api", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0",
                         "--http", "127.0.0.1:0", "--fsync", "batch", demo ? "--demo" : "--no-demo"] + arguments
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date(timeIntervalSinceNow: 20)
    while Date() < deadline {
        if let data = FileManager.default.contents(atPath: directory + "/endpoints.json"),
           let endpoints = try? JSONSerialization.jsonObject(with: data) as? [String: String], let api = endpoints["api"] {
            return (process, api)
        }
        usleep(20_000)
    }
    process.terminate()
    throw GanglionError(code: .timeout, message: "ganglion node did not write \(directory)/endpoints.json within 20 s")
}

/// The node's HTTP base URL from its endpoints file (waits until the HTTP service wrote it).
func httpEndpoint(_ directory: String) async throws -> String {
    for _ in 0..<400 {
        if let data = FileManager.default.contents(atPath: directory + "/endpoints.json"),
           let endpoints = try? JSONSerialization.jsonObject(with: data) as? [String: String], let http = endpoints["http"], !http.isEmpty {
            return http
        }
        try await Task.sleep(for: .milliseconds(25))
    }
    throw GanglionError(code: .timeout, message: "the node wrote no http endpoint to \(directory)/endpoints.json")
}

/// Runs a program to its end; returns its exit status and what it printed (output and errors).
func runProcess(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Every event envelope stored in `topic` (none when it does not exist).
func storedEvents(_ client: GanglionClient, _ topic: String) async throws -> [EventEnvelope] {
    try await client.readAll(topic: topic).map { try EventEnvelope(serializedBytes: $0.value ?? []) }
}

/// Waits (up to `seconds`) until `group` has a member: its agent host or consumer joined.
func waitForMembers(_ client: GanglionClient, group: String, seconds: Double = 10) async throws {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
    while try await client.describeGroup(group).members.isEmpty {
        guard ContinuousClock.now < deadline else { throw GanglionError(code: .timeout, message: "group \(group) got no member within \(seconds) s") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
