import ClusterCore
import ZeroMQ

extension Node {
    /// Binds the ZAP handler of the node's context on `owner`'s loop: every CURVE handshake with
    /// the node's sockets is answered by `guard` (allowed keys get their principal).
    static func serveZAP(_ owner: SocketLoop.Owner, guard nodeGuard: NodeGuard) throws {
        let zap = try owner.makeSocket(.router)
        _ = try zap.bind(ZAP.endpoint)
        owner.watch(zap) { zap, _ in
            for _ in 0..<64 {
                guard let frames = try zap.tryReceiveMultipart(maxFrames: 16) else { return }
                guard let request = ZAP.Request(frames: frames) else { continue }
                try? zap.send(multipart: nodeGuard.authenticate(request), blocking: false)
            }
        }
    }

    /// Logs and counts the peers of `socket` whose handshake failed before any ZAP request: a
    /// plain-text client, a client expecting another server key, a node of another cluster.
    static func auditHandshakes(_ owner: SocketLoop.Owner, _ socket: Socket, guard nodeGuard: NodeGuard) throws {
        try owner.watchHandshakeFailures(of: socket) { endpoint, failure in
            switch failure {
            case .protocolError(let code):
                nodeGuard.refused(principal: "(a peer of \(endpoint))", what: "connect",
                                  reason: "handshake failed: not a CURVE client or another server key (ZMTP error 0x\(String(code, radix: 16)))")
            case .other(let code):
                nodeGuard.refused(principal: "(a peer of \(endpoint))", what: "connect", reason: "handshake failed (errno \(code))")
            case .refusedByZAP:
                break  // logged by the ZAP handler, with the key
            }
        }
    }

    /// Makes `xpub` the node's secured stream socket: a CURVE server that grants a subscription
    /// only when it names one whole topic its subscriber's principal may read (a refused one is
    /// logged and never applied, so that subscriber gets nothing of the topic). Replication
    /// streams (``StreamTopic/replicationFrame(for:)``) are granted to the nodes' principal only.
    /// Grants are checked again every 250 ms: once one is no longer allowed (an ACL removed, a
    /// deny added, a principal removed), every stream connection is reset (``resetStream(_:_:grants:)``)
    /// and each subscriber, reconnecting, is checked anew — libzmq cannot drop one peer's
    /// subscription later, only the connections.
    static func guardSubscriptions(_ owner: SocketLoop.Owner, _ xpub: Socket, guard nodeGuard: NodeGuard) throws {
        try xpub.set(nodeGuard.security.serverCredentials.socketOptions)
        try xpub.set(.xpubManual(true))
        // (principal, topic) pairs granted since the last reset; used on the loop thread only.
        let granted = StreamGrants()
        func recheck(_ owner: SocketLoop.Owner) {
            // Not while a reset is still listening again: its grants are checked after it.
            if !granted.resetting, let revoked = granted.pairs.first(where: { !nodeGuard.stillMayRead(topic: $0.topic, principal: $0.principal) }) {
                nodeGuard.refused(principal: revoked.principal, what: "read topic \(revoked.topic) (its live stream, subscribed)",
                                  reason: "no longer allowed: the stream's connections are reset")
                // Forgotten only once the connections are closed; a reset that failed is tried again.
                if resetStream(owner, xpub, grants: granted) { granted.pairs = [] }
            }
            owner.schedule(after: .milliseconds(250), recheck)
        }
        owner.schedule(after: .milliseconds(250), recheck)
        owner.watch(xpub) { xpub, _ in
            for _ in 0..<256 {
                guard let message = try xpub.tryReceiveMultipart(maxFrames: 1), let frame = message.first else { return }
                let bytes = frame.bytes
                guard let action = bytes.first else { continue }
                let prefix = Array(bytes.dropFirst())
                if action == 0 {
                    try? xpub.unsubscribe(prefix)
                    continue
                }
                guard action == 1 else { continue }
                if StreamTopic.isReplication(subscription: prefix) {
                    if frame.userID == NodeSecurity.nodePrincipal {
                        try? xpub.subscribe(prefix)
                    } else {
                        nodeGuard.refused(principal: frame.userID ?? "(no principal)", what: "subscribe to a replication stream",
                                          reason: "replication streams are for the cluster's nodes only")
                    }
                    continue
                }
                guard let topic = StreamTopic.topic(ofSubscription: prefix) else {
                    nodeGuard.refused(principal: frame.userID ?? "(no principal)", what: "subscribe to a prefix of several topics",
                                      reason: "not one whole topic")
                    continue
                }
                if nodeGuard.mayRead(topic: topic, principal: frame.userID) {
                    try? xpub.subscribe(prefix)
                    granted.pairs.insert(StreamGrants.Pair(principal: frame.userID ?? "", topic: topic))
                }
            }
        }
    }

    /// Closes every connection of the stream socket and listens again on the same endpoint: the
    /// subscribers reconnect (libzmq does, within its reconnect interval) and subscribe again,
    /// each checked against the ACLs of now; what they missed meanwhile, a `PartitionStream`
    /// fetches as a gap. Every subscriber of the node reconnects, followers on the PUB replication
    /// transport too (they fetch meanwhile). The endpoint may stay taken for a moment after the
    /// unbind (libzmq closes the listener on its I/O thread): the bind is retried every 10 ms
    /// until it succeeds, logged as an error after 2 s and every 10 s after that. Returns false
    /// when the connections could not be closed (the caller tries again later).
    static func resetStream(_ owner: SocketLoop.Owner, _ xpub: Socket, grants: StreamGrants) -> Bool {
        guard let endpoint = try? xpub.lastEndpoint, !endpoint.isEmpty else { return false }
        do {
            try xpub.unbind(endpoint)
        } catch {
            owner.logger.error("security: the live stream's connections could not be reset", metadata: ["ganglion.pub": "\(endpoint)", "error": "\(error)"])
            return false
        }
        owner.logger.notice("security: live stream connections reset (a subscription is no longer allowed)", metadata: ["ganglion.pub": "\(endpoint)"])
        grants.resetting = true
        func rebind(_ owner: SocketLoop.Owner, attempt: Int) {
            do {
                _ = try xpub.bind(endpoint)
                grants.resetting = false
            } catch {
                if attempt % 1000 == 200 {
                    owner.logger.error("security: the live stream cannot listen again; retrying", metadata: ["ganglion.pub": "\(endpoint)", "error": "\(error)"])
                }
                owner.schedule(after: .milliseconds(10)) { rebind($0, attempt: attempt + 1) }
            }
        }
        rebind(owner, attempt: 1)
        return true
    }
}

/// The live-stream subscriptions a node's stream socket granted, as (principal, topic) pairs:
/// what ``Node/guardSubscriptions(_:_:guard:)`` checks again as the ACLs change. Touched only on
/// the node's socket thread.
final class StreamGrants {
    /// A principal granted a topic's stream.
    struct Pair: Hashable {
        var principal: String
        var topic: String
    }

    /// The pairs granted since the stream's connections were last reset.
    var pairs: Set<Pair> = []
    /// Whether a reset's bind has not succeeded yet.
    var resetting = false
}
