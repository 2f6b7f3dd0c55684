import CZeroMQ

extension Socket {
    /// The endpoint most recently bound or connected, with wildcards resolved
    /// (`tcp://127.0.0.1:*` reads back as `tcp://127.0.0.1:41234`).
    public var lastEndpoint: String {
        get throws {
            let bytes = try bytesOption(ZMQ_LAST_ENDPOINT, capacity: 1024, name: "last endpoint")
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// The identity this socket presents to ROUTER peers (empty when libzmq generates one).
    public var routingID: [UInt8] {
        get throws { try bytesOption(ZMQ_ROUTING_ID, capacity: 256, name: "routing id") }
    }

    /// Whether the frame last received has more frames after it in the same message.
    public var hasMoreFrames: Bool {
        get throws { try int32Option(ZMQ_RCVMORE, name: "rcvmore") != 0 }
    }

    /// What the socket can do right now without blocking.
    public var readiness: Readiness {
        get throws { Readiness(rawValue: Int16(truncatingIfNeeded: try int32Option(ZMQ_EVENTS, name: "events"))) }
    }

    /// The send high-water mark in effect.
    public var sendHighWaterMark: Int32 {
        get throws { try int32Option(ZMQ_SNDHWM, name: "send high-water mark") }
    }

    /// The receive high-water mark in effect.
    public var receiveHighWaterMark: Int32 {
        get throws { try int32Option(ZMQ_RCVHWM, name: "receive high-water mark") }
    }

    /// The linger in effect (`nil` would be unbounded, which this binding never sets).
    public var linger: Duration? {
        get throws {
            let value = try int32Option(ZMQ_LINGER, name: "linger")
            return value < 0 ? nil : .milliseconds(value)
        }
    }

    /// The largest inbound message accepted, in bytes (-1 = no limit).
    public var maxMessageSize: Int64 {
        get throws {
            let handle = try open("get max message size")
            var value: Int64 = 0
            var size = MemoryLayout<Int64>.size
            try retryingInterrupts("get max message size") { zmq_getsockopt(handle, ZMQ_MAXMSGSIZE, &value, &size) }
            return value
        }
    }

    /// Whether the socket acts as a CURVE server.
    public var isCurveServer: Bool {
        get throws { try int32Option(ZMQ_CURVE_SERVER, name: "curve server") != 0 }
    }

    func int32Option(_ option: Int32, name: String) throws -> Int32 {
        let handle = try open("get \(name)")
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try retryingInterrupts("get \(name)") { zmq_getsockopt(handle, option, &value, &size) }
        return value
    }

    func bytesOption(_ option: Int32, capacity: Int, name: String) throws -> [UInt8] {
        let handle = try open("get \(name)")
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        try retryingInterrupts("get \(name)") {
            buffer.withUnsafeMutableBytes { zmq_getsockopt(handle, option, $0.baseAddress, &size) }
        }
        return Array(buffer.prefix(size))
    }
}

/// Whether a socket can receive and/or send without blocking.
public struct Readiness: OptionSet, Sendable, Hashable {
    /// The raw `ZMQ_POLLIN`/`ZMQ_POLLOUT` bits.
    public let rawValue: Int16
    /// Creates readiness from `ZMQ_POLL*` bits.
    public init(rawValue: Int16) { self.rawValue = rawValue }
    /// At least one message can be received.
    public static let readable = Readiness(rawValue: Int16(ZMQ_POLLIN))
    /// At least one message can be sent.
    public static let writable = Readiness(rawValue: Int16(ZMQ_POLLOUT))
}
