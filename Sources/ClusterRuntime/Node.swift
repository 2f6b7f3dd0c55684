import ClusterCore
import EventLog
import Foundation
import GanglionWire
import Logging
import SchemaRegistry
import ZeroMQ

/// Produce requests awaiting acknowledgement, per client; only touched on the node's socket
/// loop thread (the request handler and the reply commands both run there).
final class InFlightWindow: @unchecked Sendable {
    let limit: Int
    private var counts: [[UInt8]: Int] = [:]

    init(limit: Int) { self.limit = limit }

    /// Counts a request in; false when the client is at its limit.
    func enter(_ client: [UInt8]) -> Bool {
        let count = counts[client, default: 0]
        guard count < limit else { return false }
        counts[client] = count + 1
        return true
    }

    /// Counts a request out.
    func leave(_ client: [UInt8]) {
        let count = counts[client, default: 1] - 1
        counts[client] = count > 0 ? count : nil
    }
}

/// Lets one maintenance pass run at a time.
final class MaintenanceGate: @unchecked Sendable {
    // `running` is guarded by `lock`.
    private let lock = NSLock()
    private var running = false

    /// Starts a pass; false when one is still running.
    func begin() -> Bool {
        lock.withLock {
            guard !running else { return false }
            running = true
            return true
        }
    }

    /// Ends the running pass.
    func end() { lock.withLock { running = false } }
}

/// The endpoints behind a lock (the HTTP address arrives later, from another task).
final class LockedEndpoints: @unchecked Sendable {
    // `value` is guarded by `lock`.
    private let lock = NSLock()
    private var value: NodeEndpoints
    init(_ value: NodeEndpoints) { self.value = value }
    func withLock<T>(_ body: (inout NodeEndpoints) -> T) -> T { lock.withLock { body(&value) } }
}

/// Where a running node can be reached; written to `<data-dir>/endpoints.json`.
public struct NodeEndpoints: Sendable, Hashable, Codable {
    /// The ROUTER for requests (`tcp://host:port`).
    public var api: String
    /// The PUB for streams.
    public var pub: String
    /// The HTTP base URL (empty until the HTTP service exists).
    public var http: String
}

/// How to run a node.
public struct NodeConfiguration: Sendable {
    /// The node's id in metadata.
    public var nodeID = "node-1"
    /// Where the logs and metadata live.
    public var dataDirectory = "./data"
    /// The ROUTER endpoint; port 0 (or `*`) lets the OS choose.
    public var apiEndpoint = "tcp://127.0.0.1:7400"
    /// The PUB endpoint; port 0 (or `*`) lets the OS choose.
    public var pubEndpoint = "tcp://127.0.0.1:7401"
    /// When appends are acknowledged (per batch fsync by default: nothing acknowledged is lost).
    public var durability = DurabilityPolicy.everyBatch
    /// How long a group member may go without a heartbeat before its partitions move (ms).
    public var groupSessionTimeout: Int64 = 10_000
    /// The most produce requests one client may have waiting for acknowledgement; beyond it the
    /// node answers `BUSY` with a retry hint instead of queueing without bound.
    public var producerWindow = 1024
    /// The most bytes in one request message.
    public var maxMessageBytes: Int64 = 16 << 20
    /// Storage faults injected into the metadata log (tests only; nil in production).
    public var metadataFaults: LogFaults?
    /// Storage faults injected into the topics' partition logs (tests only; nil in production).
    public var topicFaults: LogFaults?
    /// The most asks that may wait for replies at once; beyond it an ask is answered `BUSY`.
    public var maxWaitingAsks = 10_000
    /// The controller quorum this node belongs to (default: it is the only voter of its own cluster).
    public var controller = ControllerSettings()
    /// The host other nodes and clients use to reach this one (nil: the bound address, or the
    /// host's name when bound to all interfaces).
    public var advertiseHost: String?
    /// How long a follower may stay behind its leader's log end before it leaves the ISR.
    public var replicaLagBound: Duration = .seconds(10)
    /// How this node's followers take their leaders' batches: REPLICA_FETCH alone (the
    /// default), or the leader's PUB stream with fetch on gaps.
    public var replicationTransport = ReplicationTransport.fetch

    /// Security (CurveZMQ, the allow-list, ACLs); nil — the default — serves plain text to anyone
    /// who can reach the ports, as a single node on a developer machine does.
    public var security: NodeSecurity?

    /// The defaults: a cluster of one with its data in `./data`.
    public init() {}
}

/// A running single node: the request socket and the stream socket on one socket loop, the
/// metadata log and the partition logs.
public final class Node: Sendable {
    /// Where the node listens (OS-chosen ports resolved); `http` is filled in once the HTTP
    /// service is running.
    public var endpoints: NodeEndpoints { endpointState.withLock { $0 } }
    private let endpointState: LockedEndpoints
    /// The node's id.
    public let nodeID: String
    private let dataDirectory: String
    private let loop: SocketLoop
    /// Held while the node runs: no other node opens its data directory.
    private let directoryLock: DataDirectoryLock
    private let metadata: any MetadataLog
    let cluster: ClusterControl
    let advertiseHost: String?
    /// The socket loop, for the cluster's timers.
    var loopForCluster: SocketLoop { loop }
    let logs: TopicLogs
    private let groups: GroupDirectory
    let api: NodeAPI
    /// The gatekeeper when security is on.
    let nodeGuard: NodeGuard?
    /// What the node's own clients (its agents, its demo traffic) present when security is on.
    public var clientCredentials: CurveClientCredentials? { nodeGuard?.security.nodeCredentials }
    /// The schema registry, its state in the metadata log (REST on the HTTP port, operations
    /// over the API socket, validation of produced events).
    public let registry: SchemaRegistryService

    /// Opens the data directory, binds the sockets, writes `endpoints.json` and starts serving.
    public init(configuration: NodeConfiguration, logger: Logger = Logger(label: "ganglion.node")) throws {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        directoryLock = try DataDirectoryLock(directory: configuration.dataDirectory)
        let context = try Context(defaultLinger: .milliseconds(500))
        loop = try SocketLoop(name: "ganglion.node.api", context: context, logger: logger)
        let loop = self.loop
        let settings = configuration.controller
        if settings.isClustered {
            let storage = try RaftLogStorage(dataDirectory: configuration.dataDirectory, faults: configuration.metadataFaults)
            let store = ReplicatedMetadataStore()
            if settings.voters.contains(where: { $0.id == configuration.nodeID }) {
                let transport = RaftTransport(loop: loop, voters: settings.voters, credentials: configuration.security?.nodeCredentials)
                let quorum = try ControllerQuorum(id: configuration.nodeID, voters: settings.voters, settings: settings, storage: storage,
                                                  store: store, logger: logger) { transport.send($0) }
                store.attach(quorum)
                cluster = ClusterControl(nodeID: configuration.nodeID, settings: settings, role: .voter(quorum), storage: storage)
            } else {
                let follower = try MetadataFollower(voters: settings.voters, storage: storage, store: store, logger: logger)
                cluster = ClusterControl(nodeID: configuration.nodeID, settings: settings, role: .observer(follower), storage: storage)
            }
            metadata = store
        } else {
            metadata = try MetadataStore(directory: configuration.dataDirectory, faults: configuration.metadataFaults)
            cluster = ClusterControl(nodeID: configuration.nodeID, settings: settings, role: .single, storage: nil)
        }
        advertiseHost = configuration.advertiseHost
        registry = SchemaRegistryService(store: metadata)
        let metadataForLogs = metadata
        logs = try TopicLogs(dataDirectory: configuration.dataDirectory, durability: configuration.durability, faults: configuration.topicFaults,
                             replicated: { metadataForLogs.state.partitions[$0] != nil })
        // A cluster's groups live in the replicated __consumer_offsets, led where they are served.
        groups = cluster.isClustered ? GroupDirectory()
            : GroupDirectory(local: try GroupService(dataDirectory: configuration.dataDirectory, metadata: metadata,
                                                     sessionTimeout: configuration.groupSessionTimeout))
        let nodeGuard: NodeGuard? = if let security = configuration.security {
            NodeGuard(security: security, metadata: metadata, logger: logger)
        } else {
            nil
        }
        self.nodeGuard = nodeGuard
        let secured = nodeGuard != nil
        let (bound, routerID, pubID) = try loop.performAndWait { owner -> (NodeEndpoints, SocketLoop.SocketID, SocketLoop.SocketID) in
            // With security on, the ZAP handler is bound first: libzmq lets every CURVE client in
            // while no handler is bound.
            if let nodeGuard { try Self.serveZAP(owner, guard: nodeGuard) }
            let router = try owner.makeSocket(.router)
            if let nodeGuard {
                try router.set(nodeGuard.security.serverCredentials.socketOptions)
                try Self.auditHandshakes(owner, router, guard: nodeGuard)
            }
            try router.set([.maxMessageSize(configuration.maxMessageBytes), .sendHighWaterMark(100_000), .receiveHighWaterMark(100_000)])
            // Secured, the stream socket is a manual XPUB: each subscription is granted only when
            // its subscriber's principal may read the topic.
            let pub = try owner.makeSocket(nodeGuard == nil ? .pub : .xpub)
            if let nodeGuard {
                try Self.guardSubscriptions(owner, pub, guard: nodeGuard)
                try Self.auditHandshakes(owner, pub, guard: nodeGuard)
            }
            try pub.set(.sendHighWaterMark(100_000))
            let endpoints = NodeEndpoints(api: try router.bind(Self.wildcard(configuration.apiEndpoint)),
                                          pub: try pub.bind(Self.wildcard(configuration.pubEndpoint)), http: "")
            return (endpoints, owner.id(of: router)!, owner.id(of: pub)!)
        }
        endpointState = LockedEndpoints(bound)
        nodeID = configuration.nodeID
        dataDirectory = configuration.dataDirectory
        let groups = self.groups, logs = self.logs, metadata = self.metadata, cluster = self.cluster
        let requests = PeerRequests(loop: loop, nodeID: configuration.nodeID, credentials: configuration.security?.nodeCredentials)
        cluster.requests = requests
        if cluster.isClustered { requests.connect(to: settings.voters.map(\.api).filter { $0 != Self.wildcard(configuration.apiEndpoint) }) }
        let fetchWaiters = FetchWaiters()
        let streams = cluster.isClustered && configuration.replicationTransport == .pub
            ? try ReplicaStreams(loop: loop, credentials: configuration.security?.nodeCredentials)
            : nil
        let replicas = cluster.isClustered
            ? ReplicaManager(nodeID: configuration.nodeID, logs: logs, requests: PeerRequests(loop: loop, nodeID: configuration.nodeID, credentials: configuration.security?.nodeCredentials),
                             streams: streams, lagBound: configuration.replicaLagBound, logger: logger) { fetchWaiters.wake($0) }
            : nil
        let api = NodeAPI(nodeID: configuration.nodeID, metadata: metadata, logs: logs, groups: groups,
                          groupSessionTimeout: configuration.groupSessionTimeout, registry: registry, endpoints: endpointState,
                          cluster: cluster, fetchWaiters: fetchWaiters, replicas: replicas, askWaiters: AskWaiters(limit: configuration.maxWaitingAsks),
                          nodeGuard: nodeGuard) { stream in
            loop.execute { owner in
                if let pub = owner.socket(pubID) { try? pub.send(multipart: stream) }
            }
        }
        self.api = api
        let window = InFlightWindow(limit: configuration.producerWindow)
        let localTime = NodeMetrics.produceLocalTime()
        try loop.performAndWait { owner in
            // Members whose session expired lose their partitions.
            func expire(_ owner: SocketLoop.Owner) {
                // Groups of partitions this node no longer leads go (their next coordinator has them).
                groups.retain { api.leadsOffsets($0, at: $1) }
                // A member whose node was fenced, shut down or restarted is gone now, not a
                // group session later: its shards move as soon as the controller knows.
                let nodes = metadata.state.nodes
                groups.expireMembers { node, incarnation in
                    guard let known = nodes[node] else { return false }
                    return known.state != .alive || (incarnation.map { $0 != known.incarnation } ?? false)
                }
                owner.schedule(after: .milliseconds(500)) { expire($0) }
            }
            expire(owner)
            // Long-poll fetches whose wait is over are answered empty, at the earliest deadline
            // of those waiting (no timer while none waits).
            // (Weak: the waiters hold this closure.)
            api.fetchWaiters.arm = { [weak loop, weak waiters = api.fetchWaiters] deadline in
                guard let loop, let waiters else { return }
                loop.executeInPlace { owner in
                    owner.schedule(at: deadline) { _ in waiters.expire(now: ContinuousClock.now) }
                }
            }
            // Retention and compaction run in the background, off the socket loop.
            // Passes never overlap: a pass still running when the next is due skips that one.
            let maintenance = MaintenanceGate()
            func maintain(_ owner: SocketLoop.Owner) {
                if maintenance.begin() {
                    DispatchQueue.global(qos: .utility).async {
                        defer { maintenance.end() }
                        logs.maintain()
                        groups.maintain()
                    }
                }
                owner.schedule(after: .seconds(30)) { maintain($0) }
            }
            maintain(owner)
            // Each group's lag per partition, as a gauge for /metrics.
            func reportLag(_ owner: SocketLoop.Owner) {
                api.reportLag(groups.committedOffsets())
                owner.schedule(after: .seconds(5)) { reportLag($0) }
            }
            reportLag(owner)
            owner.watch(owner.socket(routerID)!) { router, _ in
                // Drain a bounded batch per wake-up; the handler is called again while more wait.
                for _ in 0..<256 {
                    // The routing id and at most 3 request frames are kept; a longer request is
                    // answered with an error naming its length (NodeAPI.handle).
                    guard let (request, total) = try? router.tryReceiveMultipartHead(keeping: 4) else { return }
                    guard request.count >= 2 else { continue }
                    let identity = request[0]
                    let isProduce = total == 4
                    // The client's routing id, copied once for its produce window (in and out).
                    let client = isProduce ? identity.bytes : []
                    if isProduce {
                        guard window.enter(client) else {
                            NodeMetrics.busy()
                            let requestID = (try? request[1].withUnsafeBytes { try Ganglion_V1_RequestHeader(inPlace: $0) })?.requestID ?? 0
                            try? router.send(multipart: [identity] + NodeAPI.error(requestID, .busy,
                                "more than \(window.limit) produce requests of this client await acknowledgement; retry shortly", retryAfter: 5), blocking: false)
                            continue
                        }
                    }
                    // Answered on this thread (the usual case), the reply and stream go out at once.
                    // Secured, the ZAP handler named the connection's principal (its user id).
                    let received = ContinuousClock.now
                    api.handle(request[1...], frameCount: total - 1, principal: secured ? request[1].userID : nil) { response, stream in
                        loop.executeInPlace { owner in
                            if isProduce { window.leave(client) }
                            if let stream, let pub = owner.socket(pubID) {
                                try? pub.send(multipart: stream)
                                if isProduce { localTime.record(duration: received.duration(to: .now)) }
                            }
                            if !response.isEmpty, let router = owner.socket(routerID) {
                                try? router.send(multipart: [identity] + response, blocking: false)
                            }
                        }
                    }
                }
            }
        }
        try writeEndpoints()
        startCluster(api: api, logger: logger)
        logger.info("node ready", metadata: ["ganglion.node": "\(configuration.nodeID)", "ganglion.api": "\(bound.api)", "ganglion.pub": "\(bound.pub)",
                                             "ganglion.security": "\(configuration.security == nil ? "off" : "on (CurveZMQ, ACLs; cluster key \(configuration.security!.clusterKeys.publicKey.z85))")"])
    }

    /// Asks an agent (the HTTP `POST /v1/agents/{type}/{key}` path; clients send ASK requests):
    /// the request is handled by the shard owning `key`, in order with the key's events.
    public func ask(agent: String, key: [UInt8], type: String = "", data: Data, contentType: String = "",
                    timeoutMilliseconds: UInt32 = 0, id: String = "") async throws -> AgentReply {
        var request = Ganglion_V1_AskRequest()
        request.agent = agent
        request.key = Data(key)
        request.type = type
        request.data = data
        request.contentType = contentType
        request.timeoutMs = timeoutMilliseconds
        request.id = id
        do {
            let response = try await api.ask(request)
            return AgentReply(event: try EventEnvelope(serializedBytes: response.reply), error: response.error.isEmpty ? nil : response.error)
        } catch let failure as ProtocolFailure {
            throw NodeError(code: failure.code, message: failure.message)
        }
    }

    /// The cluster metadata now (topics, producer ids, group assignments).
    public var metadataState: MetadataState { metadata.state }

    /// How many topics exist.
    public var topicCount: Int { metadata.state.topics.count }

    /// Records the HTTP service's address and rewrites `endpoints.json`.
    public func publishHTTPEndpoint(_ url: String) {
        endpointState.withLock { $0.http = url }
        try? writeEndpoints()
    }

    private func writeEndpoints() throws {
        let data = try JSONEncoder().encode(endpoints)
        try data.write(to: URL(fileURLWithPath: dataDirectory + "/endpoints.json"), options: .atomic)
    }

    /// Stops serving: ends its session with the controller (a clustered node), closes the
    /// sockets (bounded linger), flushes and closes every log. Once it returns no log is opened,
    /// written or deleted any more (work still in flight gets a `closed` error), so the data
    /// directory may be removed or opened by another node at once.
    public func stop() { stop(graceful: true) }

    /// Stops serving; not `graceful`: without telling the cluster (no controlled shutdown, no
    /// last heartbeat) — what the others see of a node killed with SIGKILL (for tests).
    public func stop(graceful: Bool) {
        stopCluster(graceful: graceful)
        api.replicas?.stopAll()
        loop.stop()
        logs.closeAll()
        groups.close()
        try? metadata.close()
        directoryLock.release()
    }

    /// `tcp://host:0` becomes `tcp://host:*` (libzmq's OS-chosen port).
    static func wildcard(_ endpoint: String) -> String {
        endpoint.hasSuffix(":0") ? String(endpoint.dropLast()) + "*" : endpoint
    }
}

/// An agent's reply to an ask.
public struct AgentReply: Sendable {
    /// The reply event (its data is the handler's reply).
    public var event: EventEnvelope
    /// Set when the handler failed every attempt (the request went to the dead letters).
    public var error: String?
}

/// A refusal of an operation inside the node's process (an ask, a shard's append): the protocol's
/// error code and a message for a person — what a client would get over the socket.
public struct NodeError: Error, Sendable, CustomStringConvertible {
    /// The error code (UNKNOWN_GROUP, TIMEOUT, SCHEMA_VIOLATION, INVALID_PRODUCER_EPOCH, …).
    public var code: Ganglion_V1_ErrorCode
    /// What went wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}
