import GanglionWire

/// A request the node refused, or a client-side failure, with the protocol's error code.
public struct GanglionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The node's error code (`.internal` for client-side failures such as a timeout).
    public var code: Ganglion_V1_ErrorCode
    /// What went wrong and what to do.
    public var message: String
    /// With `.busy`: how long to wait before retrying (ms).
    public var retryAfterMilliseconds: UInt32

    /// An error with a code and message.
    public init(code: Ganglion_V1_ErrorCode, message: String, retryAfterMilliseconds: UInt32 = 0) {
        self.code = code
        self.message = message
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
