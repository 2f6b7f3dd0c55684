import ClusterCore
import Foundation
import GanglionWire
import Logging
import SchemaRegistry
import ZeroMQ

extension Node {
    /// The controller as this node knows it: leader (nil: none known), term, and whether this node leads.
    public var controllerView: (leader: String?, term: Int64, isLeader: Bool) {
        let view = cluster.controller
        return (view.leader, view.term, cluster.isLeader)
    }

    /// The log end of this node's copy of a partition (nil: no such topic here).
    public func partitionLogEnd(_ key: TopicPartition) throws -> Int64? {
        guard let configuration = metadataState.topics[key.topic] else { return nil }
        return try logs.log(key, configuration: configuration).logEndOffset
    }

    /// Whether the node is ready to serve, and if not, why: a single node is at once; a node of a
    /// cluster once it knows a controller leader and its own copy of the metadata records this
    /// process registered and alive (so it has applied the metadata committed up to its
    /// registration). `/health` answers 503 until then.
    public var readiness: (ready: Bool, reason: String) {
        guard cluster.isClustered else { return (true, "a cluster of one") }
        guard let leader = cluster.controller.leader else { return (false, "no controller leader known yet") }
        guard let registered = metadataState.nodes[nodeID], registered.incarnation == cluster.incarnation else {
            return (false, "not yet registered with the controller (leader \(leader))")
        }
        guard registered.state == .alive else { return (false, "registered \(registered.state), not alive") }
        return (true, "registered and alive; controller leader \(leader)")
    }

    /// Whether this node sends metadata writes to another node (clustered, and not the controller leader).
    public var forwardsMetadataWrites: Bool { cluster.isClustered && !cluster.isLeader }

    /// A registry operation through this node's request path (forwarded to the controller
    /// leader when this node is not it), answered as the REST API answers.
    func registryThroughAPI(_ operation: RegistryHTTPRequest) async -> RegistryHTTPResponse {
        var request = Ganglion_V1_RegistryRequest()
        request.method = operation.method
        request.path = operation.segments
        request.query = operation.query
        request.body = Data(operation.body)
        var header = Ganglion_V1_RequestHeader()
        header.kind = .registry
        header.version = NodeAPI.protocolVersion
        header.clientID = "ganglion-http:\(nodeID)"
        guard let headerBytes = try? header.serializedBytes() as [UInt8], let body = try? request.serializedBytes() as [UInt8] else {
            return RegistryREST.error(RegistryError(50001, "the request could not be encoded"))
        }
        let reply: [Frame] = await withCheckedContinuation { continuation in
            api.handle([Frame(headerBytes), Frame(body)][...], principal: NodeSecurity.nodePrincipal) { response, _ in continuation.resume(returning: response) }
        }
        guard let first = reply.first, let answer = try? first.withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }) else {
            return RegistryREST.error(RegistryError(50001, "no answer from the controller leader"))
        }
        guard answer.error == .none, reply.count >= 2,
              let response = try? reply[1].withUnsafeBytes({ try Ganglion_V1_RegistryResponse(inPlace: $0) }) else {
            // Confluent's code for "error while forwarding the request to the leader".
            return RegistryREST.error(RegistryError(50003, "forwarding to the controller leader failed: \(answer.errorMessage)"))
        }
        return RegistryHTTPResponse(status: Int(response.status), body: Array(response.body))
    }

    /// Where other nodes and clients reach this node: the bound endpoints with the advertised
    /// host (or the host's name in place of an all-interfaces address).
    public var advertisedEndpoints: NodeEndpoints {
        let bound = endpoints
        return NodeEndpoints(api: Self.advertise(bound.api, host: advertiseHost), pub: Self.advertise(bound.pub, host: advertiseHost),
                             http: bound.http.isEmpty ? "" : Self.advertise(bound.http, host: advertiseHost))
    }

    /// `scheme://host:port` with `host` replaced by `advertised`, or by the host's name when it
    /// is an all-interfaces address.
    static func advertise(_ endpoint: String, host advertised: String?) -> String {
        guard let schemeEnd = endpoint.range(of: "://"), let colon = endpoint.lastIndex(of: ":"), colon > schemeEnd.upperBound else { return endpoint }
        let host = String(endpoint[schemeEnd.upperBound..<colon])
        let replacement: String
        if let advertised, !advertised.isEmpty {
            replacement = advertised
        } else if host == "0.0.0.0" || host == "*" || host == "::" || host == "[::]" {
            replacement = ProcessInfo.processInfo.hostName
        } else {
            return endpoint
        }
        return String(endpoint[..<schemeEnd.upperBound]) + replacement + String(endpoint[colon...])
    }

    /// Starts the controller's clock or the observer's following, and the node's heartbeats to
    /// the controller (and, on the leader, the fencing of nodes whose sessions expired).
    func startCluster(api: NodeAPI, logger: Logger) {
        // Every node keeps its groups' offsets true to the topics as it applies their changes.
        let incarnations = TopicIncarnations()
        _ = incarnations.changes(in: api.metadata.state)
        switch cluster.role {
        case .single: break
        case .voter(let quorum):
            let waiters = api.fetchWaiters, replicas = api.replicas, metadata = api.metadata, groups = api.groups
            quorum.onApplied = {
                waiters.wake(NodeAPI.metadataLogKey)
                replicas?.reconcile(metadata.state)
                TopicIncarnations.apply(incarnations.changes(in: metadata.state), to: groups)
            }
            quorum.start()
        case .observer(let follower):
            let waiters = api.fetchWaiters, replicas = api.replicas, metadata = api.metadata, groups = api.groups
            follower.onApplied = {
                waiters.wake(NodeAPI.metadataLogKey)
                replicas?.reconcile(metadata.state)
                TopicIncarnations.apply(incarnations.changes(in: metadata.state), to: groups)
            }
            if let requests = cluster.requests { follower.start(requests) }
        }
        api.replicas?.reconcile(api.metadata.state)
        // Heartbeats every interval; until the first is answered (no leader yet, or it is far),
        // every 200 ms, so a node registers as soon as there is a leader.
        let interval = cluster.settings.nodeHeartbeat
        let registered = LockedFlag()
        let lastAnswered = LockedInstant()
        let heartbeat: @Sendable () -> Void = { [weak self] in
            let sent = ContinuousClock.now
            self?.sendHeartbeat(shuttingDown: false) { response in
                if let first = response.first, let header = try? first.withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }),
                   header.error == .none {
                    registered.set()
                    lastAnswered.advance(to: sent)
                }
            }
        }
        let sessionTimeout = cluster.settings.nodeSessionTimeout
        let replicas = api.replicas, metadata = api.metadata, cluster = self.cluster, nodeID = self.nodeID
        _ = loopForCluster.execute { owner in
            func beat(_ owner: SocketLoop.Owner) {
                heartbeat()
                owner.schedule(after: registered.value ? interval : min(interval, .milliseconds(200))) { beat($0) }
            }
            beat(owner)
            func fence(_ owner: SocketLoop.Owner) {
                api.abandonStaleForwards()
                api.fenceExpiredNodes()
                owner.schedule(after: .milliseconds(100)) { fence($0) }
            }
            fence(owner)
            // The controller leader's partition decisions (leaders after nodes leave or return,
            // a step of replica balance every second, preferred leaders every 5 s).
            func controlPartitions(_ owner: SocketLoop.Owner, pass: Int) {
                if cluster.isLeader {
                    api.partitionControl.reconcile(metadata, preferred: pass % 50 == 49, balance: pass % 10 == 9)
                    api.ensureOffsetsTopic(voters: cluster.settings.voters.count)
                }
                owner.schedule(after: .milliseconds(100)) { controlPartitions($0, pass: pass + 1) }
            }
            controlPartitions(owner, pass: 0)
            // Leaders ask for ISR changes; a node whose controller session lapsed leads nothing
            // (it may have been fenced and replaced); the replicas are reconciled now and then
            // even without a metadata change.
            func tendReplicas(_ owner: SocketLoop.Owner, pass: Int) {
                if let replicas {
                    let live = lastAnswered.value.map { ContinuousClock.now - $0 < sessionTimeout } ?? false
                    let state = metadata.state
                    replicas.sessionChanged(live: live, state: state)
                    // Caught up once the metadata records this process registered and alive.
                    let registered = state.nodes[nodeID].map { $0.incarnation == cluster.incarnation && $0.state == .alive } ?? false
                    replicas.registrationChanged(caughtUp: registered, state: state)
                    replicas.proposeISRChanges { key, leaderEpoch, partitionEpoch, isr, completion in
                        api.sendAlterPartition(key, leaderEpoch: leaderEpoch, partitionEpoch: partitionEpoch, isr: isr, completion: completion)
                    }
                    if pass % 10 == 9 {
                        replicas.reconcile(metadata.state)
                        replicas.reportMetrics()
                    }
                }
                owner.schedule(after: .milliseconds(100)) { tendReplicas($0, pass: pass + 1) }
            }
            tendReplicas(owner, pass: 0)
        }
    }

    /// Tells the controller this node is leaving (waiting up to a second for it to be recorded),
    /// then stops the controller's clock or the following.
    func stopCluster(graceful: Bool = true) {
        if cluster.isClustered && graceful {
            let done = DispatchSemaphore(value: 0)
            sendHeartbeat(shuttingDown: true) { _ in done.signal() }
            _ = done.wait(timeout: .now() + .seconds(1))
            // Controlled shutdown: the controller moves this node's leaderships to in-sync
            // replicas and takes it out of the ISRs (so no leader waits for it); wait (a bounded
            // time) until the metadata shows it in no ISR it shares. On the controller leader
            // this also lets its own partition decisions run before it goes.
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline, metadataState.partitions.values.contains(where: { $0.contains { $0.isr.contains(nodeID) && $0.isr.count > 1 } }) {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        switch cluster.role {
        case .single: break
        case .voter(let quorum): quorum.stop()
        case .observer(let follower): follower.stop()
        }
    }

    /// Sends this node's heartbeat through its own request path (served here on the leader,
    /// forwarded to it otherwise).
    func sendHeartbeat(shuttingDown: Bool, completion: @escaping @Sendable ([Frame]) -> Void) {
        let endpoints = advertisedEndpoints
        var request = Ganglion_V1_NodeHeartbeatRequest()
        request.nodeID = nodeID
        request.incarnation = cluster.incarnation
        request.voter = cluster.isVoter
        request.api = endpoints.api
        request.pub = endpoints.pub
        request.http = endpoints.http
        request.shuttingDown = shuttingDown
        var header = Ganglion_V1_RequestHeader()
        header.kind = .nodeHeartbeat
        header.version = NodeAPI.protocolVersion
        header.clientID = "ganglion-node:\(nodeID)"
        guard let headerBytes = try? header.serializedBytes() as [UInt8], let body = try? request.serializedBytes() as [UInt8] else { return }
        api.handle([Frame(headerBytes), Frame(body)][...], principal: NodeSecurity.nodePrincipal) { response, _ in completion(response) }
    }
}

/// An instant that only moves forward, from any thread (nil until first set).
final class LockedInstant: @unchecked Sendable {
    private let lock = NSLock()
    private var instant: ContinuousClock.Instant?
    /// Moves the instant to `now` unless it is already later.
    func advance(to now: ContinuousClock.Instant) { lock.withLock { instant = max(instant ?? now, now) } }
    /// The instant.
    var value: ContinuousClock.Instant? { lock.withLock { instant } }
}

/// A flag set once, from any thread.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var isSet = false
    /// Sets the flag.
    func set() { lock.withLock { isSet = true } }
    /// Whether it was set.
    var value: Bool { lock.withLock { isSet } }
}
