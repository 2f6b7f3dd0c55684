import Foundation
import Ganglion
import GanglionWire
import XCTest

/// The README's example: `ganglion node` with the demo agents and a GitHub webhook on
/// `ci.pushes`; a push signed with `openssl dgst -sha256 -hmac` and sent with `curl` starts the
/// CI pipeline — the tests, security and lint agents check the commit and the aggregator posts
/// its status.
final class WebhookDemoTests: XCTestCase {
    private var directory = ""
    private var node: Process?

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-webhook-demo-" + UUID().uuidString }
    override func tearDown() {
        if let node, node.isRunning { node.terminate(); node.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testASignedGitHubPushStartsTheCIPipeline() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let webhooks = directory + "/webhooks.json"
        try Data(#"{"github": {"topic": "ci.pushes", "scheme": "github", "secretEnv": "GITHUB_WEBHOOK_SECRET", "key": "/after"}}"#.utf8)
            .write(to: URL(fileURLWithPath: webhooks))
        let secret = "demo-secret-\(UInt32.random(in: 0...UInt32.max))"
        let (process, api) = try startNodeProcess(directory, test: self, demo: true, arguments: ["--webhooks", webhooks],
                                                  environment: ["GITHUB_WEBHOOK_SECRET": secret])
        node = process
        let client = try GanglionClient(endpoint: api, timeout: .seconds(5))
        defer { client.close() }
        for agent in ["ci-tests", "ci-security", "ci-lint", "ci-aggregator"] { try await waitForMembers(client, group: agent) }
        let http = try await httpEndpoint(directory)

        // As the README shows it: sign with openssl, send with curl (twice: GitHub's "Redeliver").
        let script = """
            body='{"ref":"refs/heads/main","after":"e5f6a7b8c9d0","head_commit":{"id":"e5f6a7b8c9d0","message":"Fix flaky retry test"}}'
            sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$GITHUB_WEBHOOK_SECRET" | sed 's/^.* //')
            for attempt in 1 2; do
              curl -s -w ' %{http_code}\\n' -X POST "$HTTP/v1/webhooks/github" \\
                -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' -H 'X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958' \\
                -H "X-Hub-Signature-256: sha256=$sig" -d "$body"
            done
            curl -s -w ' %{http_code}\\n' -X POST "$HTTP/v1/webhooks/github" -H 'X-GitHub-Event: push' -H 'X-GitHub-Delivery: forged' \\
              -H "X-Hub-Signature-256: sha256=$sig" -d '{"after":"forged"}'
            """
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", script]
        shell.environment = ["PATH": "/usr/bin:/bin", "HTTP": http, "GITHUB_WEBHOOK_SECRET": secret]
        let output = Pipe()
        shell.standardOutput = output
        try shell.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        shell.waitUntilExit()
        let lines = printed.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, printed)
        XCTAssertTrue(lines.first?.hasSuffix(" 200") == true && lines.first?.contains("\"duplicate\":false") == true, printed)
        XCTAssertTrue(lines.dropFirst().first?.contains("\"duplicate\":true") == true, "the redelivery is stored once: \(printed)")
        XCTAssertTrue(lines.last?.hasSuffix(" 401") == true, "a forged push is refused: \(printed)")

        var statuses: [[String: Any]] = []
        for _ in 0..<200 where statuses.isEmpty {
            statuses = try await storedEvents(client, "ci.statuses").compactMap { try JSONSerialization.jsonObject(with: $0.data) as? [String: Any] }
            if statuses.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        XCTAssertEqual(statuses.count, 1, "one status for the one push: \(statuses)")
        XCTAssertEqual(statuses.first?["sha"] as? String, "e5f6a7b8c9d0")
        XCTAssertEqual(statuses.first?["status"] as? String, "success")
        XCTAssertEqual(statuses.first?["checks"] as? [String: String], ["tests": "success", "security": "success", "lint": "success"])
        let pushes = try await storedEvents(client, "ci.pushes")
        XCTAssertEqual(pushes.map(\.type), ["github.push"])
        XCTAssertEqual(pushes.first?.id, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    }

    func testTheNodeCommandDocumentsWebhooksAndRefusesABadFile() throws {
        let executable = try ganglionExecutable(self)
        let help = try runProcess(executable, ["node", "--help"])
        XCTAssertTrue(help.output.contains("--webhooks") && help.output.contains("GANGLION_WEBHOOKS") && help.output.contains("--http-max-body-bytes"), help.output)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let bad = try runProcess(executable, ["node", "--data-dir", directory, "--no-demo", "--api", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0",
                                              "--http", "127.0.0.1:0", "--webhooks", #"{"gh": {"topic": "t", "scheme": "github", "secretEnv": "SURELY_UNSET_VARIABLE"}}"#])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("SURELY_UNSET_VARIABLE"), bad.output)
    }
}
