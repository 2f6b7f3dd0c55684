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
    private let hubs = StreamHubs()
    /// How long a call waits for its reply.
    public let timeout: Duration

    /// Connects to the node at `endpoint` (`tcp://host:port`, its `api` endpoint).
    public init(endpoint: String, timeout: Duration = .seconds(10)) throws {
        self.endpoint = endpoint
        self.timeout = timeout
        loop = try SocketLoop(name: "ganglion.client", context: try Context(defaultLinger: .milliseconds(200)))
        let pending = self.pending
        dealerID = try loop.performAndWait { owner in
            let dealer = try owner.makeSocket(.dealer)
            try dealer.set([.sendHighWaterMark(100_000), .receiveHighWaterMark(100_000), .immediate(false)])
            try dealer.connect(endpoint)
            owner.watch(dealer) { dealer, _ in
                for _ in 0..<256 {
                    guard let reply = try dealer.tryReceiveMultipart(maxFrames: 3) else { return }
                    pending.complete(reply)
                }
            }
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
    /// about one); past that the caller hears it — the cluster has no quorum.
    public func call<Body: SwiftProtobuf.Message>(_ kind: Ganglion_V1_RequestKind, _ body: Body, extra: Frame? = nil,
                                                  timeout: Duration? = nil) async throws -> [Frame] {
        let started = ContinuousClock.now
        let deadline = started.advanced(by: timeout ?? self.timeout)
        let retryDeadline = started.advanced(by: min((timeout ?? self.timeout) / 2, .seconds(5)))
        while true {
            let frames = try request(kind, body, extra: extra)
            do {
                return try await withCheckedThrowingContinuation { continuation in
                    send(frames, timeout: max(deadline - ContinuousClock.now, .milliseconds(1))) { continuation.resume(with: $0) }
                }
            } catch let error as GanglionError where error.code == .notController {
                let pause = Duration.milliseconds(Int(max(error.retryAfterMilliseconds, 50)))
                guard ContinuousClock.now.advanced(by: pause) < retryDeadline else { throw error }
                try await Task.sleep(for: pause)
            }
        }
    }

    /// Sends a request without suspending the caller: `onReply` runs on the client's socket
    /// thread with the reply's body frames or the node's error (keep it short). The lowest-latency
    /// path: no task is scheduled between the caller and the socket.
    public func send<Body: SwiftProtobuf.Message>(_ kind: Ganglion_V1_RequestKind, _ body: Body, extra: Frame? = nil,
                                                  onReply: @escaping @Sendable (Result<[Frame], any Error>) -> Void) throws {
        send(try request(kind, body, extra: extra), onReply: onReply)
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

    private func send(_ request: (UInt64, [Frame]), timeout: Duration? = nil, onReply: @escaping @Sendable (Result<[Frame], any Error>) -> Void) {
        let (id, frames) = request
        let dealerID = self.dealerID, pending = self.pending
        pending.register(id, onReply, deadline: ContinuousClock.now.advanced(by: timeout ?? self.timeout))
        // From a task on the client's socket thread (see `socketExecutor`) this sends at once.
        let sent = loop.executeInPlace { owner in
            do {
                try owner.socket(dealerID)?.send(multipart: frames)
            } catch {
                pending.fail(id, GanglionError(code: .internal, message: "sending failed: \(error)"))
            }
        }
        if !sent { pending.fail(id, GanglionError(code: .internal, message: "the client is closed")) }
    }

    /// Sends a request and decodes its reply body.
    public func call<Body: SwiftProtobuf.Message, Reply: SwiftProtobuf.Message>(
        _ kind: Ganglion_V1_RequestKind, _ body: Body, extra: Frame? = nil, timeout: Duration? = nil, reply: Reply.Type
    ) async throws -> (Reply, [Frame]) {
        let frames = try await call(kind, body, extra: extra, timeout: timeout)
        guard let first = frames.first else { throw GanglionError(code: .malformedRequest, message: "the reply has no body") }
        let decoded = try first.withUnsafeBytes { try Reply(serializedBytes: Data($0)) }
        return (decoded, Array(frames.dropFirst()))
    }
}

/// Calls waiting for their replies, by request id.
final class PendingCalls: @unchecked Sendable {
    // `waiting` and `counter` are guarded by `lock`.
    private let lock = NSLock()
    private var waiting: [UInt64: @Sendable (Result<[Frame], any Error>) -> Void] = [:]
    private var deadlines: [UInt64: ContinuousClock.Instant] = [:]
    private var counter: UInt64 = 0

    func nextID() -> UInt64 { lock.withLock { counter += 1; return counter } }

    func register(_ id: UInt64, _ continuation: @escaping @Sendable (Result<[Frame], any Error>) -> Void, deadline: ContinuousClock.Instant) {
        lock.withLock {
            waiting[id] = continuation
            deadlines[id] = deadline
        }
    }

    func fail(_ id: UInt64, _ error: GanglionError) {
        lock.withLock { deadlines[id] = nil; return waiting.removeValue(forKey: id) }?(.failure(error))
    }

    /// Fails the calls whose deadline has passed.
    func expire(now: ContinuousClock.Instant, endpoint: String) {
        let expired: [(UInt64, @Sendable (Result<[Frame], any Error>) -> Void)] = lock.withLock {
            let late = deadlines.filter { $0.value <= now }.map(\.key)
            return late.compactMap { id in
                deadlines[id] = nil
                return waiting.removeValue(forKey: id).map { (id, $0) }
            }
        }
        for (_, continuation) in expired {
            continuation(.failure(GanglionError(code: .timeout, message: "no reply from \(endpoint) in time")))
        }
    }

    func failAll(_ error: GanglionError) {
        let all = lock.withLock { defer { waiting = [:]; deadlines = [:] }; return waiting }
        for continuation in all.values { continuation(.failure(error)) }
    }

    /// Resumes the call a reply answers (replies to calls that timed out are dropped).
    func complete(_ reply: [Frame]) {
        guard let header = try? reply[0].withUnsafeBytes({ try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }),
              let continuation = lock.withLock({ deadlines[header.requestID] = nil; return waiting.removeValue(forKey: header.requestID) }) else { return }
        if header.error == .none {
            continuation(.success(Array(reply.dropFirst())))
        } else {
            continuation(.failure(GanglionError(code: header.error, message: header.errorMessage, retryAfterMilliseconds: header.retryAfterMs)))
        }
    }
}
