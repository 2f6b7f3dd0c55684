import Foundation
import GanglionWire
import SwiftProtobuf
import ZeroMQ

/// A connection to a node's request socket: typed async calls, many in flight at once.
///
/// One socket-loop thread owns the DEALER; calls cross into it in batches and replies are matched
/// by request id, so thousands of calls can be outstanding without a thread each.
public final class GanglionClient: Sendable {
    /// The node's request endpoint.
    public let endpoint: String
    private let loop: SocketLoop
    private let dealerID: SocketLoop.SocketID
    private let pending = PendingCalls()
    private let hubs: StreamHubs
    private let peers: PeerDealers
    /// The CURVE credentials every socket of this client presents (nil: plain text).
    public let credentials: CurveClientCredentials?
    /// Where each partition's leader is, as last learned from metadata.
    let routes = PartitionRoutes()
    /// How long a call waits for its reply.
    public let timeout: Duration

    /// Connects to the node at `endpoint` (`tcp://host:port`, its `api` endpoint); with
    /// `credentials`, every connection (requests, other nodes, live streams) is a CURVE client
    /// presenting them — needed when the cluster runs with security on.
    public init(endpoint: String, timeout: Duration = .seconds(10), credentials: CurveClientCredentials? = nil) throws {
        self.endpoint = endpoint
        self.timeout = timeout
        self.credentials = credentials
        hubs = StreamHubs(credentials: credentials)
        peers = PeerDealers(credentials: credentials)
        loop = try SocketLoop(name: "ganglion.client", context: try Context(defaultLinger: .milliseconds(200)))
        let pending = self.pending
        dealerID = try loop.performAndWait { owner in
            let dealer = try Self.makeDealer(owner, endpoint: endpoint, immediate: false, pending: pending, credentials: credentials)
            // One sweep fails calls past their deadline (no timer per call).
            func sweep(_ owner: SocketLoop.Owner) {
                pending.expire(now: ContinuousClock.now, endpoint: endpoint)
                owner.schedule(after: .milliseconds(100)) { sweep($0) }
            }
            sweep(owner)
            return owner.id(of: dealer)!
        }
    }

    deinit { loop.stop() }

    /// Requests (and replies) a DEALER of the client queues before it refuses more.
    static let queueLimit: Int32 = 100_000

    /// A DEALER to `endpoint` whose replies complete `pending`'s calls. The other nodes of a
    /// cluster get `immediate` ones: a request to a node that is down fails at once (the caller
    /// refreshes its routes) instead of waiting for a reconnection.
    static func makeDealer(_ owner: SocketLoop.Owner, endpoint: String, immediate: Bool, pending: PendingCalls,
                           credentials: CurveClientCredentials?) throws -> Socket {
        let dealer = try owner.makeSocket(.dealer)
        if let credentials { try dealer.set(credentials.socketOptions) }
        try dealer.set([.sendHighWaterMark(queueLimit), .receiveHighWaterMark(queueLimit), .immediate(immediate)])
        if immediate {
            // A node that stops answering even ZMTP heartbeats (paused, cut off) is dropped after
            // 2 s: the calls waiting on it fail then, and go to the new leader.
            try dealer.set([.heartbeatInterval(.milliseconds(500)), .heartbeatTimeout(.seconds(2))])
        }
        try dealer.connect(endpoint)
        owner.watch(dealer) { dealer, _ in
            for _ in 0..<256 {
                guard let reply = try dealer.tryReceiveMultipart(maxFrames: 3) else { return }
                pending.complete(reply)
            }
        }
        // A lost connection (the node died or restarted) will answer nothing still waiting on
        // it: those calls fail now, as of unknown outcome, instead of at their deadline.
        try owner.watchDisconnects(of: dealer) { _ in
            pending.failCalls(to: endpoint, GanglionError(code: .timeout,
                message: "the connection to \(endpoint) was lost while the request was with it; it may or may not have been applied"))
        }
        return dealer
    }

    /// The client's socket thread as a task executor. A task that prefers it
    /// (`Task(executorPreference: client.socketExecutor)`) sends its requests without a thread
    /// hop and is resumed by replies without waking another thread: the lowest-latency way to
    /// produce. Its code delays the client's I/O while it runs, so keep it short and non-blocking.
    public var socketExecutor: any TaskExecutor { loop }

    /// The live streams of the node at `pubEndpoint`, followed through one SUB socket on this
    /// client's socket thread.
    func streamHub(pubEndpoint: String) throws -> StreamHub { try hubs.hub(for: pubEndpoint, loop: loop) }

    /// Suspends until `deadline`, woken by the client's socket thread to the microsecond; a task
    /// on ``socketExecutor`` then resumes without any other thread woken (paced producers).
    public func sleep(until deadline: ContinuousClock.Instant) async { await loop.sleep(until: deadline) }

    /// Closes the connection; calls in flight fail.
    public func close() {
        loop.stop()
        pending.failAll(GanglionError(code: .internal, message: "the client was closed"))
    }

    /// Sends a request and returns the reply's body frames, or throws the node's error; waits
    /// `timeout` (the client's by default) for the reply.
    /// A `NOT_CONTROLLER` answer (a metadata write met an election; nothing was applied) is
    /// retried after the node's hint for up to half the timeout (at most 5 s: an election takes
    /// about one); past that the caller hears it — the cluster has no quorum. So is a `TIMEOUT`
    /// answer to `INIT_PRODUCER_ID` (its controller shut down while issuing it).
    public func call<Body: SwiftProtobuf.Message>(_ kind: Ganglion_V1_RequestKind, _ body: Body, extra: Frame? = nil,
                                                  timeout: Duration? = nil, to node: String? = nil) async throws -> [Frame] {
        let started = ContinuousClock.now
        let deadline = started.advanced(by: timeout ?? self.timeout)
        let retryDeadline = started.advanced(by: min((timeout ?? self.timeout) / 2, .seconds(5)))
        while true {
            let frames = try request(kind, body, extra: extra)
            do {
                return try await withCheckedThrowingContinuation { continuation in
                    send(frames, to: node, timeout: max(deadline - ContinuousClock.now, .milliseconds(1))) { continuation.resume(with: $0) }
                }
            } catch let error as GanglionError where error.code == .notController || error.code == .notCoordinator
                        || (error.code == .busy && kind == .createTopic) || (error.code == .timeout && kind == .initProducerID) {
                // NOT_CONTROLLER: an election; NOT_COORDINATOR: the group's coordinator is moving;
                // BUSY for a topic: the cluster is starting (no node registered yet). Nothing was
                // applied either way. A producer id asked of a controller that shut down (a
                // rolling restart) may or may not have been issued: asking again is safe — at
                // worst an id is issued that nobody uses.
                let pause = Duration.milliseconds(Int(max(error.retryAfterMilliseconds, 50)))
                guard ContinuousClock.now.advanced(by: pause) < retryDeadline else { throw error }
                try await Task.sleep(for: pause)
            }
        }
    }

    /// Sends a request without suspending the caller: `onReply` runs on the client's socket
    /// thread with the reply's body frames or the node's error (keep it short). The lowest-latency
    /// path: no task is scheduled between the caller and the socket.
    public func send<Body: SwiftProtobuf.Message>(_ kind: Ganglion_V1_RequestKind, _ body: Body, extra: Frame? = nil, to node: String? = nil,
                                                  onReply: @escaping @Sendable (Result<[Frame], any Error>) -> Void) throws {
        send(try request(kind, body, extra: extra), to: node, onReply: onReply)
    }

    private func request<Body: SwiftProtobuf.Message>(_ kind: Ganglion_V1_RequestKind, _ body: Body, extra: Frame?) throws -> (UInt64, [Frame]) {
        let id = pending.nextID()
        var header = Ganglion_V1_RequestHeader()
        header.kind = kind
        header.requestID = id
        header.version = 1
        header.clientID = "ganglion-swift"
        var request = [Frame(try header.serializedBytes() as [UInt8]), Frame(try body.serializedBytes() as [UInt8])]
        if let extra { request.append(extra) }
        return (id, request)
    }

    /// Sends to another node's DEALER. One not connected (down, or its connection still being
    /// made) is tried again every 10 ms, `attempts` times (a connection on a LAN is made well within
    /// that; a node that is down should cost little); then the call fails with `NOT_LEADER`
    /// (nothing was sent) so the caller refreshes its routes.
    static func sendToPeer(_ owner: SocketLoop.Owner, node: String, frames: [Frame], id: UInt64, peers: PeerDealers, pending: PendingCalls,
                           attempts: Int) throws {
        let socket = try peers.socket(for: node, owner) { try Self.makeDealer($0, endpoint: node, immediate: true, pending: pending, credentials: peers.credentials) }
        if try socket.trySend(multipart: frames) { return }
        guard attempts > 1, pending.isWaiting(id) else {
            return pending.fail(id, GanglionError(code: .notLeader, message: "node at \(node) is not reachable now; refresh metadata and retry",
                                                  retryAfterMilliseconds: 50))
        }
        owner.schedule(after: .milliseconds(10)) { owner in
            do {
                try sendToPeer(owner, node: node, frames: frames, id: id, peers: peers, pending: pending, attempts: attempts - 1)
            } catch {
                pending.fail(id, GanglionError(code: .internal, message: "sending failed: \(error)"))
            }
        }
    }

    /// Opens DEALERs to the other nodes' request endpoints now, so the first request to each
    /// finds its connection up.
    func connect(to nodes: [String]) {
        let pending = self.pending, peers = self.peers
        _ = loop.execute { owner in
            for node in nodes {
                _ = try? peers.socket(for: node, owner) { try Self.makeDealer($0, endpoint: node, immediate: true, pending: pending, credentials: peers.credentials) }
            }
        }
    }

    /// Sends to the node this client was opened on, or to another node's request endpoint `node`.
    private func send(_ request: (UInt64, [Frame]), to node: String? = nil, timeout: Duration? = nil,
                      onReply: @escaping @Sendable (Result<[Frame], any Error>) -> Void) {
        let (id, frames) = request
        let dealerID = self.dealerID, pending = self.pending, peers = self.peers, bootstrap = endpoint
        pending.register(id, onReply, deadline: ContinuousClock.now.advanced(by: timeout ?? self.timeout), node: node ?? bootstrap)
        // From a task on the client's socket thread (see `socketExecutor`) this sends at once.
        let sent = loop.executeInPlace { owner in
            do {
                if let node {
                    try Self.sendToPeer(owner, node: node, frames: frames, id: id, peers: peers, pending: pending, attempts: 8)
                } else if let dealer = owner.socket(dealerID), try !dealer.trySend(multipart: frames) {
                    // Never blocking the socket thread (no timeout could fire then): the DEALER
                    // refuses only with no connection left to queue on — libzmq drops it for good
                    // after a handshake the node refused — or with its queue full.
                    pending.fail(id, GanglionError(code: .timeout, message: "nothing was sent to \(bootstrap): this client has no connection to it "
                        + "(a node that refuses the client's CURVE handshake — a key it does not allow, a wrong server key, plain text — "
                        + "drops the connection for good) or its queue of \(Self.queueLimit) requests is full"))
                }
            } catch {
                pending.fail(id, GanglionError(code: .internal, message: "sending failed: \(error)"))
            }
        }
        if !sent { pending.fail(id, GanglionError(code: .internal, message: "the client is closed")) }
    }

    /// Sends a request and decodes its reply body.
    public func call<Body: SwiftProtobuf.Message, Reply: SwiftProtobuf.Message>(
        _ kind: Ganglion_V1_RequestKind, _ body: Body, extra: Frame? = nil, timeout: Duration? = nil, to node: String? = nil, reply: Reply.Type
    ) async throws -> (Reply, [Frame]) {
        let frames = try await call(kind, body, extra: extra, timeout: timeout, to: node)
        guard let first = frames.first else { throw GanglionError(code: .malformedRequest, message: "the reply has no body") }
        let decoded = try first.withUnsafeBytes { try Reply(inPlace: $0) }
        return (decoded, Array(frames.dropFirst()))
    }
}

/// The client's DEALERs to the other nodes of a cluster, by request endpoint (loop thread only).
final class PeerDealers: @unchecked Sendable {
    private var sockets: [String: SocketLoop.SocketID] = [:]
    /// What every DEALER made here presents (nil: plain text).
    let credentials: CurveClientCredentials?

    init(credentials: CurveClientCredentials?) { self.credentials = credentials }

    /// The DEALER to `endpoint`, made by `make` on first use.
    func socket(for endpoint: String, _ owner: SocketLoop.Owner, make: (SocketLoop.Owner) throws -> Socket) throws -> Socket {
        if let id = sockets[endpoint], let socket = owner.socket(id) { return socket }
        let socket = try make(owner)
        sockets[endpoint] = owner.id(of: socket)
        return socket
    }
}

/// Calls waiting for their replies, by request id.
final class PendingCalls: @unchecked Sendable {
    /// A call waiting: what its reply goes to, until when, and the node it was sent to.
    private struct Call {
        var reply: @Sendable (Result<[Frame], any Error>) -> Void
        var deadline: ContinuousClock.Instant
        var node: String
    }

    // `waiting` and `counter` are guarded by `lock`.
    private let lock = NSLock()
    private var waiting: [UInt64: Call] = [:]
    private var counter: UInt64 = 0

    func nextID() -> UInt64 { lock.withLock { counter += 1; return counter } }

    func register(_ id: UInt64, _ continuation: @escaping @Sendable (Result<[Frame], any Error>) -> Void, deadline: ContinuousClock.Instant,
                  node: String) {
        // One entry per call: this runs for every request sent.
        lock.withLock { waiting[id] = Call(reply: continuation, deadline: deadline, node: node) }
    }

    /// Fails the calls sent to `node` that still wait (its connection was lost).
    func failCalls(to node: String, _ error: GanglionError) {
        let failed: [Call] = lock.withLock {
            let ids = waiting.filter { $0.value.node == node }.map(\.key)
            return ids.compactMap { waiting.removeValue(forKey: $0) }
        }
        for call in failed { call.reply(.failure(error)) }
    }

    /// Whether call `id` still waits for its reply.
    func isWaiting(_ id: UInt64) -> Bool { lock.withLock { waiting[id] != nil } }

    func fail(_ id: UInt64, _ error: GanglionError) {
        lock.withLock { waiting.removeValue(forKey: id) }?.reply(.failure(error))
    }

    /// Fails the calls whose deadline has passed.
    func expire(now: ContinuousClock.Instant, endpoint: String) {
        let expired: [Call] = lock.withLock {
            let late = waiting.filter { $0.value.deadline <= now }.map(\.key)
            return late.compactMap { waiting.removeValue(forKey: $0) }
        }
        for call in expired {
            call.reply(.failure(GanglionError(code: .timeout, message: "no reply from \(endpoint) in time")))
        }
    }

    func failAll(_ error: GanglionError) {
        let all = lock.withLock { defer { waiting = [:] }; return waiting }
        for call in all.values { call.reply(.failure(error)) }
    }

    /// Resumes the call a reply answers (replies to calls that timed out are dropped).
    func complete(_ reply: [Frame]) {
        guard let header = try? reply[0].withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }),
              let continuation = lock.withLock({ waiting.removeValue(forKey: header.requestID)?.reply }) else { return }
        if header.error == .none {
            continuation(.success(Array(reply.dropFirst())))
        } else {
            continuation(.failure(GanglionError(code: header.error, message: header.errorMessage, retryAfterMilliseconds: header.retryAfterMs)))
        }
    }
}
