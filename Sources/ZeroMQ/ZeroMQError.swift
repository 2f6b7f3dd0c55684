import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed libzmq call: which operation failed, the errno libzmq reported and its message.
///
/// Callers switch on ``code`` for the cases they handle (``Code/wouldBlock`` above all) and
/// log ``description`` for the rest; the errno and libzmq's own text are always kept.
public struct ZeroMQError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kinds of failure callers act on; anything else is ``Code/other``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case wouldBlock, contextTerminated, hostUnreachable, invalidArgument
            case addressInUse, addressNotAvailable, protocolNotSupported, notSupported
            case stateMismatch, messageTooLarge, socketClosed, tooManySockets, endpointNotFound, other
        }
        private let value: Value

        /// EAGAIN: the operation would block (a non-blocking call, or a send/receive timeout).
        public static let wouldBlock = Code(value: .wouldBlock)
        /// ETERM: the context was shut down; close the socket.
        public static let contextTerminated = Code(value: .contextTerminated)
        /// EHOSTUNREACH: a ROUTER with router-mandatory has no peer with that routing id.
        public static let hostUnreachable = Code(value: .hostUnreachable)
        /// EINVAL: a bad endpoint, option value or argument.
        public static let invalidArgument = Code(value: .invalidArgument)
        /// EADDRINUSE: the address is already bound.
        public static let addressInUse = Code(value: .addressInUse)
        /// EADDRNOTAVAIL: the address is not local, or not bound (on unbind).
        public static let addressNotAvailable = Code(value: .addressNotAvailable)
        /// EPROTONOSUPPORT: the transport in the endpoint is not supported.
        public static let protocolNotSupported = Code(value: .protocolNotSupported)
        /// ENOTSUP: the operation is not supported by this socket type.
        public static let notSupported = Code(value: .notSupported)
        /// EFSM: the socket is in the wrong state (e.g. REQ sending twice).
        public static let stateMismatch = Code(value: .stateMismatch)
        /// EMSGSIZE, or a frame larger than a limit this binding enforces.
        public static let messageTooLarge = Code(value: .messageTooLarge)
        /// The Swift socket was already closed.
        public static let socketClosed = Code(value: .socketClosed)
        /// EMFILE: the context's socket limit or the process's descriptor limit is reached.
        public static let tooManySockets = Code(value: .tooManySockets)
        /// ENOENT: unbind or disconnect of an endpoint the socket is not bound or connected to.
        public static let endpointNotFound = Code(value: .endpointNotFound)
        /// Any other errno; see ``ZeroMQError/errno``.
        public static let other = Code(value: .other)

        /// The code for an errno value reported by libzmq.
        public init(errno: Int32) {
            switch errno {
            case EAGAIN: value = .wouldBlock
            case ETERM: value = .contextTerminated
            case EHOSTUNREACH: value = .hostUnreachable
            case EINVAL: value = .invalidArgument
            case EADDRINUSE: value = .addressInUse
            case EADDRNOTAVAIL: value = .addressNotAvailable
            case EPROTONOSUPPORT: value = .protocolNotSupported
            case ENOTSUP: value = .notSupported
            case EFSM: value = .stateMismatch
            case EMSGSIZE: value = .messageTooLarge
            case EMFILE: value = .tooManySockets
            case ENOTSOCK: value = .socketClosed
            case ENOENT: value = .endpointNotFound
            default: value = .other
            }
        }

        private init(value: Value) { self.value = value }

        /// A stable, lower-case name for logs and metrics.
        public var description: String {
            switch value {
            case .wouldBlock: "would_block"
            case .contextTerminated: "context_terminated"
            case .hostUnreachable: "host_unreachable"
            case .invalidArgument: "invalid_argument"
            case .addressInUse: "address_in_use"
            case .addressNotAvailable: "address_not_available"
            case .protocolNotSupported: "protocol_not_supported"
            case .notSupported: "not_supported"
            case .stateMismatch: "state_mismatch"
            case .messageTooLarge: "message_too_large"
            case .socketClosed: "socket_closed"
            case .tooManySockets: "too_many_sockets"
            case .endpointNotFound: "endpoint_not_found"
            case .other: "other"
            }
        }
    }

    /// What kind of failure this is.
    public let code: Code
    /// The errno libzmq reported (0 for failures detected by the binding itself).
    public let errno: Int32
    /// libzmq's text for the errno (`zmq_strerror`), or the binding's own explanation.
    public let message: String
    /// The operation that failed, e.g. `bind tcp://127.0.0.1:*`.
    public let operation: String

    /// An error for `errno` as reported by libzmq during `operation`.
    public init(errno: Int32, operation: String) {
        self.code = Code(errno: errno)
        self.errno = errno
        self.message = String(cString: zmq_strerror(errno))
        self.operation = operation
    }

    /// An error detected by the binding itself, without a libzmq errno.
    public init(code: Code, message: String, operation: String) {
        self.code = code
        self.errno = 0
        self.message = message
        self.operation = operation
    }

    /// The error for the current `zmq_errno()` after a failed call.
    static func last(_ operation: @autoclosure () -> String) -> ZeroMQError {
        ZeroMQError(errno: zmq_errno(), operation: operation())
    }

    /// `true` for EAGAIN: nothing was sent or received, try again later.
    public var isWouldBlock: Bool { code == .wouldBlock }

    /// One line for logs: operation, code, errno and libzmq's message.
    public var description: String {
        "ZeroMQ \(operation) failed: \(code) (errno \(errno)): \(message)"
    }
}
