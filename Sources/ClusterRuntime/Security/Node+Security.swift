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
    static func guardSubscriptions(_ owner: SocketLoop.Owner, _ xpub: Socket, guard nodeGuard: NodeGuard) throws {
        try xpub.set(nodeGuard.security.serverCredentials.socketOptions)
        try xpub.set(.xpubManual(true))
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
                if nodeGuard.mayRead(topic: topic, principal: frame.userID) { try? xpub.subscribe(prefix) }
            }
        }
    }
}
