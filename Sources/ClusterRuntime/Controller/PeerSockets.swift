import ClusterCore
import Foundation
import GanglionWire
import SwiftProtobuf
import ZeroMQ

/// Requests from this node to other nodes (forwarded metadata writes, observers' metadata
/// fetches, heartbeats to the controller): one DEALER per endpoint on the node's socket loop,
/// replies matched by request id, each request answered once — with the reply, or with TIMEOUT
/// when none came in time. All state belongs to the loop thread.
final class PeerRequests: @unchecked Sendable {
    /// What a request's caller hears: the reply frames (header first), or why there is none.
    typealias Completion = @Sendable (Result<[Frame], ProtocolFailure>) -> Void

    private struct Waiter {
        var endpoint: String
        var deadline: ContinuousClock.Instant
        var completion: Completion
        /// The controller leader a forwarded request went to (nil: not a forward).
        var leader: String?
    }

    private let loop: SocketLoop
    private let nodeID: String
    private let credentials: CurveClientCredentials?
    private var sockets: [String: SocketLoop.SocketID] = [:]
    private var waiting: [UInt64: Waiter] = [:]
    private var nextID: UInt64 = 1

    /// Requests over `loop`'s sockets, presenting `credentials` to the other nodes (nil: plain text).
    init(loop: SocketLoop, nodeID: String, credentials: CurveClientCredentials? = nil) {
        self.loop = loop
        self.nodeID = nodeID
        self.credentials = credentials
        loop.execute { [self] owner in expire(owner) }
    }

    /// Sends `body` (plus `extra` frames) as a request of `kind` to `endpoint`.
    func request(_ endpoint: String, kind: Ganglion_V1_RequestKind, body: some SwiftProtobuf.Message,
                 timeout: Duration, completion: @escaping Completion) {
        do {
            request(endpoint, kind: kind, frames: [Frame(try body.serializedBytes() as [UInt8])], timeout: timeout, completion: completion)
        } catch {
            completion(.failure(ProtocolFailure(.internal, "encoding a \(kind) request failed: \(error)")))
        }
    }

    /// Sends a request of `kind` whose frames after the header are `frames` (a forwarded request's own).
    func request(_ endpoint: String, kind: Ganglion_V1_RequestKind, frames: [Frame], timeout: Duration,
                 clientID: String? = nil, traceparent: String = "", leader: String? = nil, completion: @escaping Completion) {
        loop.execute { [self] owner in
            let id = nextID
            nextID += 1
            var header = Ganglion_V1_RequestHeader()
            header.kind = kind
            header.requestID = id
            header.version = NodeAPI.protocolVersion
            header.clientID = clientID ?? "ganglion-node:\(nodeID)"
            header.traceparent = traceparent
            do {
                let socket = try self.socket(for: endpoint, owner)
                try socket.send(multipart: [Frame(try header.serializedBytes() as [UInt8])] + frames, blocking: false)
                waiting[id] = Waiter(endpoint: endpoint, deadline: .now + timeout, completion: completion, leader: leader)
            } catch {
                // Never sent: nothing can have been applied, so the caller may retry.
                completion(.failure(ProtocolFailure(.notController, "node at \(endpoint) cannot take requests now (\(error)); nothing was sent")))
            }
        }
    }

    private func socket(for endpoint: String, _ owner: SocketLoop.Owner) throws -> Socket {
        if let id = sockets[endpoint], let socket = owner.socket(id) { return socket }
        let socket = try owner.makeSocket(.dealer)
        if let credentials { try socket.set(credentials.socketOptions) }
        // A request is only queued on a live connection (`immediate`): one to a node that is down
        // fails at once, never sent — the caller may retry elsewhere. One that finds no answer in
        // time fails with TIMEOUT and takes the socket (and whatever is still queued) with it.
        try socket.set([.linger(.zero), .immediate(true), .sendHighWaterMark(10_000), .maxMessageSize(64 << 20),
                        .heartbeatInterval(.seconds(1)), .heartbeatTimeout(.seconds(3)), .reconnectIntervalMax(.seconds(1))])
        try socket.connect(endpoint)
        owner.watch(socket) { [self] socket, _ in
            for _ in 0..<256 {
                guard let frames = try socket.tryReceiveMultipart() else { return }
                guard let first = frames.first,
                      let header = try? first.withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }),
                      let waiter = waiting.removeValue(forKey: header.requestID) else { continue }
                waiter.completion(.success(frames))
            }
        }
        sockets[endpoint] = owner.id(of: socket)
        return socket
    }

    /// Opens connections to `endpoints` now, so the first request to each finds them up.
    func connect(to endpoints: [String]) {
        loop.execute { [self] owner in
            for endpoint in endpoints { _ = try? socket(for: endpoint, owner) }
        }
    }

    /// Fails the forwarded requests that went to a leader other than `leader`: that node no
    /// longer leads, and may never answer (paused or cut off). Their outcome is unknown.
    func abandonForwards(notTo leader: String?) {
        loop.execute { [self] _ in
            for (id, waiter) in waiting where waiter.leader != nil && waiter.leader != leader {
                waiting[id] = nil
                waiter.completion(.failure(ProtocolFailure(.timeout,
                    "the controller leader changed (from \(waiter.leader!) to \(leader ?? "none known")) while the request was with it; it may or may not be applied")))
            }
        }
    }

    /// Answers requests whose time is up, and drops the socket of an endpoint that did not
    /// answer in time (so nothing stale is still queued for it when it returns).
    private func expire(_ owner: SocketLoop.Owner) {
        let now = ContinuousClock.now
        for (id, waiter) in waiting where waiter.deadline <= now {
            waiting[id] = nil
            if let socketID = sockets.removeValue(forKey: waiter.endpoint), let socket = owner.socket(socketID) { owner.close(socket) }
            waiter.completion(.failure(ProtocolFailure(.timeout, "node at \(waiter.endpoint) did not answer in time")))
        }
        owner.schedule(after: .milliseconds(50)) { [self] in expire($0) }
    }
}

/// Raft messages to the other voters: one DEALER per voter, one-way (a RAFT request has no
/// reply; answers travel as messages the other way). A message that cannot be queued now (the
/// voter unreachable) is dropped: Raft retries by its own clock.
final class RaftTransport: @unchecked Sendable {
    private let loop: SocketLoop
    private let endpoints: [String: String]
    private let credentials: CurveClientCredentials?
    private var sockets: [String: SocketLoop.SocketID] = [:]

    /// A transport to `voters` over `loop`, presenting `credentials` to them (nil: plain text).
    init(loop: SocketLoop, voters: [VoterAddress], credentials: CurveClientCredentials? = nil) {
        self.loop = loop
        self.credentials = credentials
        endpoints = Dictionary(voters.map { ($0.id, $0.api) }, uniquingKeysWith: { first, _ in first })
    }

    /// Sends `message` to its receiver.
    func send(_ message: RaftMessage) {
        guard let endpoint = endpoints[message.to] else { return }
        var header = Ganglion_V1_RequestHeader()
        header.kind = .raft
        header.version = NodeAPI.protocolVersion
        header.clientID = "ganglion-raft:\(message.from)"
        guard let headerBytes = try? header.serializedBytes() as [UInt8],
              let body = try? RaftWire.encode(message).serializedBytes() as [UInt8] else { return }
        loop.execute { [self] owner in
            do {
                let socket: Socket
                if let id = sockets[message.to], let existing = owner.socket(id) {
                    socket = existing
                } else {
                    socket = try owner.makeSocket(.dealer)
                    if let credentials { try socket.set(credentials.socketOptions) }
                    try socket.set([.linger(.zero), .immediate(true), .sendHighWaterMark(1_000), .maxMessageSize(64 << 20),
                                    .heartbeatInterval(.seconds(1)), .heartbeatTimeout(.seconds(3)), .reconnectIntervalMax(.milliseconds(500))])
                    try socket.connect(endpoint)
                    sockets[message.to] = owner.id(of: socket)
                }
                try socket.send(multipart: [Frame(headerBytes), Frame(body)], blocking: false)
            } catch {
                // Unreachable now: Raft sends again on its next heartbeat or election.
            }
        }
    }
}
