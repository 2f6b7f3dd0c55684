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
            return owner.id(of: dealer)!
        }
    }

    deinit { loop.stop() }

    /// Closes the connection; calls in flight fail.
    public func close() {
        loop.stop()
        pending.failAll(GanglionError(code: .internal, message: "the client was closed"))
    }

    /// Sends a request and returns the reply's body frames, or throws the node's error.
    public func call<Body: SwiftProtobuf.Message>(_ kind: Ganglion_V1_RequestKind, _ body: Body, extra: Frame? = nil) async throws -> [Frame] {
        let id = pending.nextID()
        var header = Ganglion_V1_RequestHeader()
        header.kind = kind
        header.requestID = id
        header.version = 1
        header.clientID = "ganglion-swift"
        var request = [Frame(try header.serializedBytes() as [UInt8]), Frame(try body.serializedBytes() as [UInt8])]
        if let extra { request.append(extra) }
        let frames = request
        let dealerID = self.dealerID, timeout = self.timeout, pending = self.pending, endpoint = self.endpoint
        return try await withCheckedThrowingContinuation { continuation in
            pending.register(id, continuation)
            let sent = loop.execute { owner in
                do {
                    try owner.socket(dealerID)?.send(multipart: frames)
                } catch {
                    pending.fail(id, GanglionError(code: .internal, message: "sending failed: \(error)"))
                    return
                }
                owner.schedule(after: timeout) { _ in
                    pending.fail(id, GanglionError(code: .timeout, message: "no reply from \(endpoint) within \(timeout)"))
                }
            }
            if !sent { pending.fail(id, GanglionError(code: .internal, message: "the client is closed")) }
        }
    }

    /// Sends a request and decodes its reply body.
    public func call<Body: SwiftProtobuf.Message, Reply: SwiftProtobuf.Message>(
        _ kind: Ganglion_V1_RequestKind, _ body: Body, extra: Frame? = nil, reply: Reply.Type
    ) async throws -> (Reply, [Frame]) {
        let frames = try await call(kind, body, extra: extra)
        guard let first = frames.first else { throw GanglionError(code: .malformedRequest, message: "the reply has no body") }
        let decoded = try first.withUnsafeBytes { try Reply(serializedBytes: Data($0)) }
        return (decoded, Array(frames.dropFirst()))
    }
}

/// Calls waiting for their replies, by request id.
final class PendingCalls: @unchecked Sendable {
    // `waiting` and `counter` are guarded by `lock`.
    private let lock = NSLock()
    private var waiting: [UInt64: CheckedContinuation<[Frame], any Error>] = [:]
    private var counter: UInt64 = 0

    func nextID() -> UInt64 { lock.withLock { counter += 1; return counter } }

    func register(_ id: UInt64, _ continuation: CheckedContinuation<[Frame], any Error>) {
        lock.withLock { waiting[id] = continuation }
    }

    func fail(_ id: UInt64, _ error: GanglionError) {
        lock.withLock { waiting.removeValue(forKey: id) }?.resume(throwing: error)
    }

    func failAll(_ error: GanglionError) {
        let all = lock.withLock { defer { waiting = [:] }; return waiting }
        for continuation in all.values { continuation.resume(throwing: error) }
    }

    /// Resumes the call a reply answers (replies to calls that timed out are dropped).
    func complete(_ reply: [Frame]) {
        guard let header = try? reply[0].withUnsafeBytes({ try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }),
              let continuation = lock.withLock({ waiting.removeValue(forKey: header.requestID) }) else { return }
        if header.error == .none {
            continuation.resume(returning: Array(reply.dropFirst()))
        } else {
            continuation.resume(throwing: GanglionError(code: header.error, message: header.errorMessage, retryAfterMilliseconds: header.retryAfterMs))
        }
    }
}
