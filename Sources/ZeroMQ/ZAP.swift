/// The ZeroMQ Authentication Protocol (ZAP, RFC 27): how libzmq asks the application whether a
/// peer that completed a security handshake may connect. A handler binds a ROUTER (or REP) to
/// ``ZAP/endpoint`` in the same ``Context`` as the server sockets, before they accept peers; each
/// request names the socket's ZAP domain, the peer's address and mechanism and, for CURVE, its
/// long-term public key. The reply's user id is attached to every message from that connection
/// (``Frame/userID``).
public enum ZAP {
    /// The endpoint libzmq sends ZAP requests to, inside each context.
    public static let endpoint = "inproc://zeromq.zap.01"
    /// The protocol version both sides speak.
    public static let version = "1.0"

    /// One authentication request, as it arrives on a ROUTER bound to ``ZAP/endpoint``.
    public struct Request: Sendable {
        /// The ROUTER routing id of libzmq's ZAP client (echoed in the reply).
        public let routingID: Frame
        /// The request id (echoed in the reply).
        public let requestID: Frame
        /// The ZAP domain of the server socket (``SocketOption/zapDomain(_:)``).
        public let domain: String
        /// The peer's IP address.
        public let address: String
        /// The mechanism: `NULL`, `PLAIN` or `CURVE`.
        public let mechanism: String
        /// The mechanism's credentials; for CURVE, one frame: the client's 32-byte public key.
        public let credentials: [Frame]

        /// The request in `frames` (routing id, empty delimiter, version, request id, domain,
        /// address, identity, mechanism, credentials…); nil when they are not a ZAP 1.0 request.
        public init?(frames: [Frame]) {
            guard frames.count >= 8, frames[1].isEmpty, frames[2].string == ZAP.version else { return nil }
            routingID = frames[0]
            requestID = frames[3]
            domain = frames[4].string
            address = frames[5].string
            mechanism = frames[7].string
            credentials = Array(frames[8...])
        }

        /// The client's CURVE public key, when the mechanism is CURVE and the key is well formed.
        public var curvePublicKey: CurveKey? {
            guard mechanism == "CURVE", let key = credentials.first else { return nil }
            return try? CurveKey(bytes: key.bytes)
        }

        /// The frames answering this request: `200` with `userID` when allowed, `400` with a
        /// reason when refused (the peer is disconnected and never learns why).
        public func reply(allowing userID: String?, reason: String = "") -> [Frame] {
            [routingID, Frame(), Frame(ZAP.version), requestID, Frame(userID == nil ? "400" : "200"),
             Frame(userID == nil ? reason : "OK"), Frame(userID ?? ""), Frame()]
        }
    }
}
