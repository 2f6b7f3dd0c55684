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
