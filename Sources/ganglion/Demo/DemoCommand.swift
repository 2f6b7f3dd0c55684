import ArgumentParser
import ClusterRuntime
import EventLog
import Foundation

/// `ganglion demo [run]` and `ganglion demo replay`.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Run the demo, or replay its fraud agent with another threshold.",
        subcommands: [DemoRunCommand.self, DemoReplayCommand.self], defaultSubcommand: DemoRunCommand.self)
}

/// `ganglion demo run`: a node with the demo agents, sample traffic, and a live view of what the
/// agents decide — what `scripts/start.sh` runs with no arguments. Ctrl-C stops it.
struct DemoRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a node with the demo agents, feed it sample traffic and show the agents' work live.")

    @Option(help: "Where the node keeps its data.") var dataDir = "./data"
    @Option(help: "ROUTER endpoint (port 0: OS-chosen).") var api = "tcp://127.0.0.1:7400"
    @Option(help: "PUB endpoint (port 0: OS-chosen).") var pub = "tcp://127.0.0.1:7401"
    @Option(help: "HTTP host:port (port 0: OS-chosen).") var http = "127.0.0.1:7402"
    @Option(help: "Sample transactions per second.") var rate = 5.0
    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).") var seconds: Double?
    @Option(help: "A JSON file of webhooks (as `ganglion node --webhooks`), e.g. a GitHub webhook on ci.pushes to drive the CI pipeline.")
    var webhooks: String?

    func validate() throws {
        guard rate > 0, rate <= 10_000 else { throw ValidationError("--rate must be above 0 and at most 10000") }
    }

    func run() async throws {
        var settings = NodeConfiguration()
        settings.dataDirectory = dataDir
        settings.apiEndpoint = api
        settings.pubEndpoint = pub
        settings.durability = .interval(.milliseconds(100))
        guard let colon = http.lastIndex(of: ":"), let port = Int(http[http.index(after: colon)...]) else {
            throw ValidationError("--http must be host:port, not \(http)")
        }
        let rate = self.rate, seconds = self.seconds
        var ingest = HTTPIngestSettings()
        let environment = ProcessInfo.processInfo.environment
        ingest.webhooks = try NodeCommand.webhooks(webhooks ?? environment["GANGLION_WEBHOOKS"], environment: environment)
        try await NodeRunner.run(settings: settings, httpHost: String(http[..<colon]), httpPort: port, ingest: ingest, demo: true) { node, _ in
            [DemoTrafficService(node: node, rate: rate, seconds: seconds)]
        }
    }
}
