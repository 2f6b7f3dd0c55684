import CZeroMQ
import Foundation

extension Socket {
    /// Publishes this socket's connection events of `events` (a mask of `ZMQ_EVENT_*`) on a PAIR
    /// socket bound at `endpoint` (`inproc://…`), as libzmq's socket monitor does.
    public func monitor(_ endpoint: String, events: Int32) throws {
        let handle = try open("monitor \(endpoint)")
        guard zmq_socket_monitor(handle, endpoint, events) == 0 else {
            throw ZeroMQError(errno: zmq_errno(), operation: "monitor on \(endpoint)")
        }
    }
}

extension SocketLoop.Owner {
    /// Calls `handler` on the loop thread with the peer endpoint each time one of `socket`'s
    /// connections is lost (the peer closed it, died, or stopped answering heartbeats) — the
    /// moment requests still waiting on that connection will not be answered.
    public func watchDisconnects(of socket: Socket, _ handler: @escaping (String) -> Void) throws {
        let address = "inproc://ganglion-monitor-\(UUID().uuidString)"
        try socket.monitor(address, events: Int32(ZMQ_EVENT_DISCONNECTED))
        let events = try makeSocket(.pair)
        try events.connect(address)
        watch(events) { events, _ in
            for _ in 0..<64 {
                guard let frames = try events.tryReceiveMultipart(maxFrames: 2), frames.count == 2 else { return }
                let event = frames[0].withUnsafeBytes { $0.count >= 2 ? UInt16($0[0]) | UInt16($0[1]) << 8 : 0 }
                guard Int32(event) == Int32(ZMQ_EVENT_DISCONNECTED) else { continue }
                handler(String(decoding: frames[1].bytes, as: UTF8.self))
            }
        }
    }
}

extension SocketLoop.Owner {
    /// Why a peer's security handshake with a socket failed, as libzmq's monitor reports it.
    public enum HandshakeFailure: Sendable, Hashable {
        /// The peer broke the handshake protocol: not a CURVE peer, a CURVE client expecting
        /// another server key, a mechanism mismatch (`value`: libzmq's `ZMQ_PROTOCOL_ERROR_*`).
        case protocolError(UInt32)
        /// The ZAP handler refused the peer (`value`: its status code, e.g. 400).
        case refusedByZAP(UInt32)
        /// The handshake failed without detail (e.g. the peer went away during it).
        case other(UInt32)
    }

    /// Calls `handler` on the loop thread with the endpoint and the reason each time a peer's
    /// security handshake with `socket` fails — the refusals that never reach a ZAP handler.
    public func watchHandshakeFailures(of socket: Socket, _ handler: @escaping (String, HandshakeFailure) -> Void) throws {
        let address = "inproc://ganglion-monitor-\(UUID().uuidString)"
        let mask = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
        try socket.monitor(address, events: Int32(mask))
        let events = try makeSocket(.pair)
        try events.connect(address)
        watch(events) { events, _ in
            for _ in 0..<64 {
                guard let frames = try events.tryReceiveMultipart(maxFrames: 2), frames.count == 2 else { return }
                let (event, value): (Int32, UInt32) = frames[0].withUnsafeBytes { bytes in
                    guard bytes.count >= 6 else { return (0, 0) }
                    return (Int32(UInt16(bytes[0]) | UInt16(bytes[1]) << 8),
                            UInt32(bytes[2]) | UInt32(bytes[3]) << 8 | UInt32(bytes[4]) << 16 | UInt32(bytes[5]) << 24)
                }
                let endpoint = String(decoding: frames[1].bytes, as: UTF8.self)
                switch event {
                case Int32(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL): handler(endpoint, .protocolError(value))
                case Int32(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH): handler(endpoint, .refusedByZAP(value))
                case Int32(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL): handler(endpoint, .other(value))
                default: continue
                }
            }
        }
    }
}
