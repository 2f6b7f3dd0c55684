import CZeroMQ

/// A socket option the cluster sets, with its value.
///
/// Durations are converted to libzmq's milliseconds; a value out
/// of libzmq's range is refused with ``ZeroMQError/Code/invalidArgument`` naming the option.
public enum SocketOption: Sendable, Hashable {
    /// Most messages queued for sending per peer (0 = unlimited). PUB drops beyond it; others block.
    case sendHighWaterMark(Int32)
    /// Most messages queued on receipt per peer (0 = unlimited).
    case receiveHighWaterMark(Int32)
    /// How long `close` may wait to flush queued messages; always bounded here.
    case linger(Duration)
    /// How long a blocking send waits before failing with would-block (`nil` = forever).
    case sendTimeout(Duration?)
    /// How long a blocking receive waits before failing with would-block (`nil` = forever).
    case receiveTimeout(Duration?)
    /// The identity this socket presents to a ROUTER peer (1–255 bytes).
    case routingID([UInt8])
    /// A ROUTER fails with host-unreachable instead of silently dropping unroutable messages.
    case routerMandatory(Bool)
    /// An XPUB answers would-block at the HWM instead of dropping.
    case xpubNoDrop(Bool)
    /// An XPUB passes on every subscription message, not only new ones.
    case xpubVerbose(Bool)
    /// An XPUB applies no subscription by itself: the owner reads each subscription message and
    /// applies it (``Socket/subscribe(_:)`` on the XPUB) or refuses it by doing nothing.
    case xpubManual(Bool)
    /// Queue messages only for completed connections (no queueing for absent peers).
    case immediate(Bool)
    /// Largest inbound message accepted (bytes); a peer sending more is disconnected. -1 = no limit.
    case maxMessageSize(Int64)
    /// TCP keepalive on the socket's connections.
    case tcpKeepalive(Bool)
    /// Idle time before the first TCP keepalive probe.
    case tcpKeepaliveIdle(Duration)
    /// Interval between TCP keepalive probes.
    case tcpKeepaliveInterval(Duration)
    /// Unanswered TCP keepalive probes before the connection is dropped.
    case tcpKeepaliveCount(Int32)
    /// Interval of ZMTP heartbeats (PING) on every connection.
    case heartbeatInterval(Duration)
    /// How long without traffic after a PING before the connection is closed.
    case heartbeatTimeout(Duration)
    /// How long the remote peer should wait for traffic before closing (sent in our PINGs).
    case heartbeatTTL(Duration)
    /// Act as the CURVE server (needs ``curveSecretKey(_:)``).
    case curveServer(Bool)
    /// This socket's long-term CURVE public key.
    case curvePublicKey(CurveKey)
    /// This socket's long-term CURVE secret key.
    case curveSecretKey(CurveKey)
    /// The server's public key a CURVE client expects.
    case curveServerKey(CurveKey)
    /// The ZAP authentication domain of a server socket.
    case zapDomain(String)
    /// Initial and maximum reconnect interval after a dropped connection.
    case reconnectInterval(Duration)
    /// Upper bound of the exponential reconnect backoff (0 = no backoff).
    case reconnectIntervalMax(Duration)
    /// How long a ZMTP handshake may take before the connection is dropped.
    case handshakeInterval(Duration)
    /// Kernel send buffer size in bytes (0 = OS default).
    case sendBufferSize(Int32)
    /// Kernel receive buffer size in bytes (0 = OS default).
    case receiveBufferSize(Int32)
    /// Accept IPv6 as well as IPv4 on tcp endpoints.
    case ipv6(Bool)

    /// The option's name, for error messages.
    public var name: String {
        switch self {
        case .sendHighWaterMark: "send high-water mark"
        case .receiveHighWaterMark: "receive high-water mark"
        case .linger: "linger"
        case .sendTimeout: "send timeout"
        case .receiveTimeout: "receive timeout"
        case .routingID: "routing id"
        case .routerMandatory: "router mandatory"
        case .xpubNoDrop: "xpub no-drop"
        case .xpubVerbose: "xpub verbose"
        case .xpubManual: "xpub manual"
        case .immediate: "immediate"
        case .maxMessageSize: "max message size"
        case .tcpKeepalive: "tcp keepalive"
        case .tcpKeepaliveIdle: "tcp keepalive idle"
        case .tcpKeepaliveInterval: "tcp keepalive interval"
        case .tcpKeepaliveCount: "tcp keepalive count"
        case .heartbeatInterval: "heartbeat interval"
        case .heartbeatTimeout: "heartbeat timeout"
        case .heartbeatTTL: "heartbeat ttl"
        case .curveServer: "curve server"
        case .curvePublicKey: "curve public key"
        case .curveSecretKey: "curve secret key"
        case .curveServerKey: "curve server key"
        case .zapDomain: "zap domain"
        case .reconnectInterval: "reconnect interval"
        case .reconnectIntervalMax: "reconnect interval max"
        case .handshakeInterval: "handshake interval"
        case .sendBufferSize: "send buffer size"
        case .receiveBufferSize: "receive buffer size"
        case .ipv6: "ipv6"
        }
    }

    /// The libzmq option number and its value encoded as libzmq expects.
    func encoded() throws -> (option: Int32, value: EncodedValue) {
        switch self {
        case .sendHighWaterMark(let value): (ZMQ_SNDHWM, .int32(value))
        case .receiveHighWaterMark(let value): (ZMQ_RCVHWM, .int32(value))
        case .linger(let value): (ZMQ_LINGER, .int32(try milliseconds(value)))
        case .sendTimeout(let value): (ZMQ_SNDTIMEO, .int32(try value.map(milliseconds) ?? -1))
        case .receiveTimeout(let value): (ZMQ_RCVTIMEO, .int32(try value.map(milliseconds) ?? -1))
        case .routingID(let value): (ZMQ_ROUTING_ID, .bytes(value))
        case .routerMandatory(let value): (ZMQ_ROUTER_MANDATORY, .int32(value ? 1 : 0))
        case .xpubNoDrop(let value): (ZMQ_XPUB_NODROP, .int32(value ? 1 : 0))
        case .xpubVerbose(let value): (ZMQ_XPUB_VERBOSE, .int32(value ? 1 : 0))
        case .xpubManual(let value): (ZMQ_XPUB_MANUAL, .int32(value ? 1 : 0))
        case .immediate(let value): (ZMQ_IMMEDIATE, .int32(value ? 1 : 0))
        case .maxMessageSize(let value): (ZMQ_MAXMSGSIZE, .int64(value))
        case .tcpKeepalive(let value): (ZMQ_TCP_KEEPALIVE, .int32(value ? 1 : 0))
        case .tcpKeepaliveIdle(let value): (ZMQ_TCP_KEEPALIVE_IDLE, .int32(try seconds(value)))
        case .tcpKeepaliveInterval(let value): (ZMQ_TCP_KEEPALIVE_INTVL, .int32(try seconds(value)))
        case .tcpKeepaliveCount(let value): (ZMQ_TCP_KEEPALIVE_CNT, .int32(value))
        case .heartbeatInterval(let value): (ZMQ_HEARTBEAT_IVL, .int32(try milliseconds(value)))
        case .heartbeatTimeout(let value): (ZMQ_HEARTBEAT_TIMEOUT, .int32(try milliseconds(value)))
        case .heartbeatTTL(let value): (ZMQ_HEARTBEAT_TTL, .int32(try milliseconds(value)))
        case .curveServer(let value): (ZMQ_CURVE_SERVER, .int32(value ? 1 : 0))
        case .curvePublicKey(let key): (ZMQ_CURVE_PUBLICKEY, .bytes(key.bytes))
        case .curveSecretKey(let key): (ZMQ_CURVE_SECRETKEY, .bytes(key.bytes))
        case .curveServerKey(let key): (ZMQ_CURVE_SERVERKEY, .bytes(key.bytes))
        case .zapDomain(let value): (ZMQ_ZAP_DOMAIN, .bytes(Array(value.utf8)))
        case .reconnectInterval(let value): (ZMQ_RECONNECT_IVL, .int32(try milliseconds(value)))
        case .reconnectIntervalMax(let value): (ZMQ_RECONNECT_IVL_MAX, .int32(try milliseconds(value)))
        case .handshakeInterval(let value): (ZMQ_HANDSHAKE_IVL, .int32(try milliseconds(value)))
        case .sendBufferSize(let value): (ZMQ_SNDBUF, .int32(value))
        case .receiveBufferSize(let value): (ZMQ_RCVBUF, .int32(value))
        case .ipv6(let value): (ZMQ_IPV6, .int32(value ? 1 : 0))
        }
    }

    /// An option value in the C representation libzmq reads.
    enum EncodedValue {
        case int32(Int32)
        case int64(Int64)
        case bytes([UInt8])
    }

    private func milliseconds(_ duration: Duration) throws -> Int32 {
        try whole(duration, unit: .milliseconds(1), unitName: "ms")
    }

    private func seconds(_ duration: Duration) throws -> Int32 {
        try whole(duration, unit: .seconds(1), unitName: "s")
    }

    private func whole(_ duration: Duration, unit: Duration, unitName: String) throws -> Int32 {
        let units = duration / unit
        guard units >= 0, units <= Double(Int32.max) else {
            throw ZeroMQError(
                code: .invalidArgument,
                message: "\(duration) is outside 0…\(Int32.max) \(unitName)",
                operation: "set \(name)")
        }
        return Int32(units.rounded(.up))
    }
}
