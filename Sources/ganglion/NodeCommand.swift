import ArgumentParser
import Ganglion
import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import ZeroMQ
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `ganglion node`: runs a node. With no configuration it is a working cluster of one with its
/// data in `./data`. Settings come from flags, then `GANGLION_*` environment variables, then a
/// JSON config file, in that order of precedence.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a Ganglion node (a cluster of one unless configured otherwise).",
        discussion: """
            Endpoints accept port 0 for an OS-chosen port; once ready the node writes them to \
            <data-dir>/endpoints.json (keys api, pub, http). SIGTERM or SIGINT shut it down gracefully.
            Without --node-id the node uses the id in <data-dir>/node-id, written on first start \
            (node-1 for a cluster of one, a generated id otherwise). Without --voters the node is the only \
            controller voter of its own cluster; with it, the node is a voter when its id is in the list and \
            an observer otherwise (a list naming only the node itself starts a cluster of one voter that other \
            nodes join as observers).
            HTTP ingest: POST /v1/topics/TOPIC/events takes CloudEvents (binary mode with ce-* headers, \
            application/cloudevents+json, application/cloudevents-batch+json) and answers 201 with each event's \
            partition and offset once stored. POST /v1/webhooks/NAME takes signed deliveries for the webhooks of \
            --webhooks FILE, a JSON object from name to settings, e.g. \
            {"github": {"topic": "ci.pushes", "scheme": "github", "secretEnv": "GITHUB_WEBHOOK_SECRET", "key": "/after"}}: \
            scheme github, stripe, slack or hmac; the secret from secretFile or secretEnv (never logged); optional \
            toleranceSeconds (300), key (a JSON Pointer into the body), source, type, dedupeCapacity (10000), \
            dedupeWindowSeconds (86400), and for hmac signatureHeader, encoding (hex|base64), signaturePrefix, \
            idHeader, eventHeader. See docs/http.md.
            Environment: GANGLION_NODE_ID, GANGLION_DATA_DIR, GANGLION_API, GANGLION_PUB, GANGLION_HTTP, GANGLION_FSYNC, \
            GANGLION_VOTERS, GANGLION_ADVERTISE, GANGLION_DEMO (false: no demo agents), GANGLION_DEMO_PARTITIONS, GANGLION_ELECTION_TIMEOUT_MS, GANGLION_NODE_SESSION_TIMEOUT_MS, \
            GANGLION_WEBHOOKS (a file, or the JSON itself when it starts with '{'), GANGLION_HTTP_MAX_BODY_BYTES.
            Config file keys: nodeID, dataDirectory, api, pub, http, fsync, voters, advertise, electionTimeoutMs, nodeSessionTimeoutMs, \
            webhooks (a file), httpMaxBodyBytes.
            """
    )

    @Option(help: "This node's id (default: the one in <data-dir>/node-id, generated on first start).") var nodeID: String?
    @Option(help: "The controller voters: ID@HOST:PORT,… (their request endpoints). Default: this node alone.") var voters: String?
    @Option(help: "The host other nodes and clients use to reach this node (default: the bound address, or the host name when bound to all interfaces).")
    var advertise: String?
    @Option(help: "The controller's base election timeout in ms (a follower campaigns after a random 1–2× of it without a leader; default 500).")
    var electionTimeoutMs: Int?
    @Option(help: "How long the controller waits without a node's heartbeat before fencing it (ms, default 6000).")
    var nodeSessionTimeoutMs: Int?
    @Option(help: "Where logs and metadata live (default ./data).") var dataDir: String?
    @Option(help: "ROUTER endpoint for requests (default tcp://127.0.0.1:7400; port 0: OS-chosen).") var api: String?
    @Option(help: "PUB endpoint for streams (default tcp://127.0.0.1:7401; port 0: OS-chosen).") var pub: String?
    @Option(help: "When appends are acknowledged: batch (fsync each, group commit), interval (100 ms) or os.") var fsync: String?
    @Option(help: "How this node's followers take their leaders' batches: fetch (REPLICA_FETCH alone, the default) or pub (the leader's PUB stream, fetching on gaps).")
    var replicationTransport: String?
    @Option(help: "HTTP host:port for /health and /metrics (default 127.0.0.1:7402; port 0: OS-chosen).") var http: String?
    @Option(help: "A JSON config file (lowest precedence).") var config: String?
    @Option(help: "A JSON file of webhooks served at POST /v1/webhooks/NAME: name → {topic, scheme (github|stripe|slack|hmac), secretFile | secretEnv, …}.")
    var webhooks: String?
    @Option(help: "The largest HTTP ingest request body in bytes (default 1048576; larger bodies get 413).") var httpMaxBodyBytes: Int?
    @Option(help: "How long a group member may go without a heartbeat before its partitions move (ms).") var groupSessionTimeoutMs: Int64 = 10_000
    @Option(help: ArgumentHelp("Stop (as on SIGTERM) once the process with this id is no longer this node's parent: for a node a tool starts for a while, so it never outlives the tool.",
                               visibility: .hidden))
    var exitWithParent: Int32?
    @Flag(help: ArgumentHelp("With --exit-with-parent: when the node stops because that process went away, it deletes its data directory (a tool's scratch node, whose data nobody will read).",
                             visibility: .hidden))
    var discardDataWithParent = false
    @Flag(inversion: .prefixedNo, help: "Run the demo agents: fraud detection, the CI pipeline, the document saga and the task queue.") var demo = true
    @Option(help: "Partitions of the demo agents' input topics when first made (default: 2, transactions 3): their shards, so how many nodes share each demo agent.")
    var demoPartitions: UInt32?
    @Option(help: "Turn security on: the directory with the cluster's key pair (cluster.key, made by `ganglion security init`). Every socket then speaks CurveZMQ, only known keys connect, requests are checked against the ACLs and HTTP needs a token (default: $GANGLION_SECURITY_DIR; or keys from the environment: $GANGLION_CLUSTER_SECRET_KEY and $GANGLION_SUPER_USER_KEYS=NAME=PUBLICKEY,…; none: off).")
    var securityDir: String?
    @Option(help: "Principals allowed everything, by name, comma-separated: each one's public key is <security-dir>/NAME.pub (default: admin).")
    var superUsers: String?

    /// The config file's shape.
    struct FileSettings: Decodable {
        var nodeID: String?
        var dataDirectory: String?
        var api: String?
        var pub: String?
        var http: String?
        var fsync: String?
        var replicationTransport: String?
        var voters: String?
        var advertise: String?
        var electionTimeoutMs: Int?
        var nodeSessionTimeoutMs: Int?
        var webhooks: String?
        var httpMaxBodyBytes: Int?
        var securityDir: String?
        var superUsers: String?
    }

    func run() async throws {
        if discardDataWithParent && exitWithParent == nil {
            throw ValidationError("--discard-data-with-parent needs --exit-with-parent PID (the process whose end discards the data)")
        }
        let environment = ProcessInfo.processInfo.environment
        var file = FileSettings()
        if let path = config ?? environment["GANGLION_CONFIG"] {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read config file \(path)") }
            do { file = try JSONDecoder().decode(FileSettings.self, from: data) } catch {
                throw ValidationError("config file \(path) is not valid: \(error)")
            }
        }
        var settings = NodeConfiguration()
        settings.dataDirectory = dataDir ?? environment["GANGLION_DATA_DIR"] ?? file.dataDirectory ?? settings.dataDirectory
        if let list = voters ?? environment["GANGLION_VOTERS"] ?? file.voters, !list.isEmpty {
            do { settings.controller.voters = try VoterAddress.parseList(list) } catch { throw ValidationError("--voters: \(error)") }
        }
        settings.advertiseHost = advertise ?? environment["GANGLION_ADVERTISE"] ?? file.advertise
        if let milliseconds = electionTimeoutMs ?? environment["GANGLION_ELECTION_TIMEOUT_MS"].flatMap(Int.init) ?? file.electionTimeoutMs {
            guard milliseconds >= 100 else { throw ValidationError("--election-timeout-ms must be at least 100") }
            settings.controller.tick = .milliseconds(milliseconds / settings.controller.electionTicks)
        }
        if let milliseconds = nodeSessionTimeoutMs ?? environment["GANGLION_NODE_SESSION_TIMEOUT_MS"].flatMap(Int.init) ?? file.nodeSessionTimeoutMs {
            guard milliseconds >= 1_000 else { throw ValidationError("--node-session-timeout-ms must be at least 1000") }
            settings.controller.nodeSessionTimeout = .milliseconds(milliseconds)
            // Five heartbeats per session: one late or lost beat never fences a node.
            settings.controller.nodeHeartbeat = min(.seconds(1), .milliseconds(milliseconds / 5))
        }
        settings.nodeID = try nodeID ?? environment["GANGLION_NODE_ID"] ?? file.nodeID
            ?? NodeIdentity.stored(in: settings.dataDirectory, clustered: !settings.controller.voters.isEmpty)
        if !settings.controller.voters.isEmpty, settings.controller.voters.contains(where: { $0.id == settings.nodeID }) == false {
            FileHandle.standardError.write(Data("node \(settings.nodeID) is not among the voters: it runs as an observer\n".utf8))
        }
        settings.apiEndpoint = api ?? environment["GANGLION_API"] ?? file.api ?? settings.apiEndpoint
        settings.pubEndpoint = pub ?? environment["GANGLION_PUB"] ?? file.pub ?? settings.pubEndpoint
        switch fsync ?? environment["GANGLION_FSYNC"] ?? file.fsync ?? "batch" {
        case "batch": settings.durability = .everyBatch
        case "interval": settings.durability = .interval(.milliseconds(100))
        case "os": settings.durability = .operatingSystem
        case let other: throw ValidationError("--fsync must be batch, interval or os, not \(other)")
        }
        let transport = replicationTransport ?? environment["GANGLION_REPLICATION_TRANSPORT"] ?? file.replicationTransport ?? "fetch"
        guard let chosen = ReplicationTransport(rawValue: transport) else {
            throw ValidationError("--replication-transport must be fetch or pub, not \(transport)")
        }
        settings.replicationTransport = chosen
        guard groupSessionTimeoutMs >= 100 else { throw ValidationError("--group-session-timeout-ms must be at least 100") }
        settings.groupSessionTimeout = groupSessionTimeoutMs
        let httpAddress = http ?? environment["GANGLION_HTTP"] ?? file.http ?? "127.0.0.1:7402"
        guard let colon = httpAddress.lastIndex(of: ":"), let httpPort = Int(httpAddress[httpAddress.index(after: colon)...]),
              (0...65535).contains(httpPort) else {
            throw ValidationError("--http must be host:port, not \(httpAddress)")
        }
        let httpHost = String(httpAddress[..<colon])
        var ingest = HTTPIngestSettings()
        if let bytes = httpMaxBodyBytes ?? environment["GANGLION_HTTP_MAX_BODY_BYTES"].flatMap(Int.init) ?? file.httpMaxBodyBytes {
            guard bytes >= 1_024, bytes <= 64 << 20 else { throw ValidationError("--http-max-body-bytes must be between 1024 and 67108864, not \(bytes)") }
            ingest.maxBodyBytes = bytes
        }
        ingest.webhooks = try Self.webhooks(webhooks ?? environment["GANGLION_WEBHOOKS"] ?? file.webhooks, environment: environment)
        let demoPartitions = demoPartitions ?? environment["GANGLION_DEMO_PARTITIONS"].flatMap(UInt32.init)
        if let demoPartitions, !(1...TopicConfiguration.maxPartitions).contains(Int32(clamping: demoPartitions)) {
            throw ValidationError("--demo-partitions must be between 1 and \(TopicConfiguration.maxPartitions), not \(demoPartitions)")
        }
        if let directory = securityDir ?? environment["GANGLION_SECURITY_DIR"].flatMap({ $0.isEmpty ? nil : $0 }) ?? file.securityDir {
            settings.security = try Self.security(directory: directory,
                                                  superUsers: superUsers ?? environment["GANGLION_SUPER_USERS"] ?? file.superUsers ?? "admin")
        } else if let secret = environment["GANGLION_CLUSTER_SECRET_KEY"], !secret.isEmpty {
            settings.security = try Self.security(clusterSecretKey: secret, superUserKeys: environment["GANGLION_SUPER_USER_KEYS"] ?? "")
        }
        // GANGLION_DEMO=false (or 0, no) leaves the demo agents out, as --no-demo does.
        let demo = demo && !["false", "0", "no"].contains(environment["GANGLION_DEMO"]?.lowercased() ?? "")
        let watch = exitWithParent.map { ParentWatch(parent: $0) }
        try await NodeRunner.run(settings: settings, httpHost: httpHost, httpPort: httpPort, ingest: ingest, demo: demo,
                                 demoPartitions: demoPartitions, extra: { _, _ in watch.map { [$0] } ?? [] })
        // Stopped and closed: a scratch node whose parent is gone leaves nothing behind.
        if discardDataWithParent, let parent = exitWithParent, getppid() != parent {
            try? FileManager.default.removeItem(atPath: settings.dataDirectory)
        }
    }

    /// The security settings of a key directory: the cluster key pair, and each named super user
    /// whose public key is there (a name without a key file is skipped, said on stderr).
    static func security(directory: String, superUsers: String) throws -> NodeSecurity {
        let keys: CurveKeyPair
        do {
            keys = try CurveKeyFiles.readKeyPair(CurveKeyFiles.path(directory, CurveKeyFiles.clusterName, "key"))
        } catch {
            throw ValidationError("--security-dir: \(error) (make the keys with `ganglion security init \(directory)`)")
        }
        var users: [String: CurveKey] = [:]
        for name in superUsers.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            let path = CurveKeyFiles.path(directory, name, "pub")
            guard FileManager.default.fileExists(atPath: path) else {
                FileHandle.standardError.write(Data("super user \(name) has no key at \(path): skipped\n".utf8))
                continue
            }
            do { users[name] = try CurveKeyFiles.readPublicKey(path) } catch { throw ValidationError("--super-users: \(error)") }
        }
        return NodeSecurity(clusterKeys: keys, superUsers: users)
    }

    /// The security settings from the environment (keys as text, no files): the cluster's secret
    /// key in Z85 (its public key is derived), and super users as `NAME=PUBLICKEY,…`.
    static func security(clusterSecretKey: String, superUserKeys: String) throws -> NodeSecurity {
        let keys: CurveKeyPair
        do {
            let secret = try CurveKey(z85: clusterSecretKey.trimmingCharacters(in: .whitespacesAndNewlines))
            keys = CurveKeyPair(publicKey: try CurveKeyPair.publicKey(for: secret), secretKey: secret)
        } catch {
            throw ValidationError("GANGLION_CLUSTER_SECRET_KEY must be the cluster's secret key, 40 Z85 characters (cluster.key's secret-key)")
        }
        var users: [String: CurveKey] = [:]
        for item in superUserKeys.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let equals = item.firstIndex(of: "="), let key = try? CurveKey(z85: String(item[item.index(after: equals)...])) else {
                throw ValidationError("GANGLION_SUPER_USER_KEYS: \"\(item.prefix(20))…\" must be NAME=PUBLICKEY (40 Z85 characters)")
            }
            users[String(item[..<equals])] = key
        }
        return NodeSecurity(clusterKeys: keys, superUsers: users)
    }

    /// The webhooks of `source`: a file, or (from GANGLION_WEBHOOKS) the JSON itself.
    static func webhooks(_ source: String?, environment: [String: String]) throws -> [String: WebhookEndpoint] {
        guard let source, !source.isEmpty else { return [:] }
        let json: Data
        if source.hasPrefix("{") {
            json = Data(source.utf8)
        } else {
            guard let data = FileManager.default.contents(atPath: source) else { throw ValidationError("--webhooks: cannot read \(source)") }
            json = data
        }
        do {
            return try WebhookConfiguration.parse(json, environment: environment)
        } catch {
            throw ValidationError("--webhooks: \(error)")
        }
    }
}

/// A node's identity when no `--node-id` is given: the one in `<data-dir>/node-id`, written on
/// first start — `node-1` for a cluster of one (as always), a generated id for a node of a
/// larger cluster (scaled containers have no other identity).
enum NodeIdentity {
    static func stored(in dataDirectory: String, clustered: Bool) throws -> String {
        let path = dataDirectory + "/node-id"
        if let data = FileManager.default.contents(atPath: path) {
            let id = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !id.isEmpty else { throw ValidationError("\(path) is empty; remove it or write the node's id into it") }
            return id
        }
        let id = clustered ? "node-" + String(UInt32.random(in: 0...UInt32.max), radix: 16) : "node-1"
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try Data((id + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return id
    }
}

/// Starts a node with its HTTP service (and the demo agents, and any extra services) in one
/// ServiceGroup that shuts down gracefully on SIGTERM or SIGINT — the library's ``AgentNode``,
/// as a user's own executable would run it.
enum NodeRunner {
    static func run(settings: NodeConfiguration, httpHost: String, httpPort: Int, ingest: HTTPIngestSettings = HTTPIngestSettings(), demo: Bool,
                    demoPartitions: UInt32? = nil, extra: @escaping @Sendable (Node, Logger) -> [any Service] = { _, _ in [] }) async throws {
        var node = AgentNode(configuration: settings)
        node.httpHost = httpHost
        node.httpPort = httpPort
        node.httpIngest = ingest
        if demo { try DemoAgents.register(on: &node, inputPartitions: demoPartitions) }
        try await node.run(extra: extra)
    }
}
