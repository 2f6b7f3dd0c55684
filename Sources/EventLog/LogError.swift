/// A failure of the event log: what went wrong, on which partition/segment, and what to do.
public struct LogError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kinds of failure callers act on.
    public enum Code: String, Sendable, Hashable {
        /// Bytes that are not a well-formed record batch (bad length, magic, counts or CRC).
        case malformedBatch = "malformed_batch"
        /// A batch larger than the log's limits.
        case tooLarge = "too_large"
        /// One record of a batch larger than the log's per-record limit.
        case recordTooLarge = "record_too_large"
        /// Stored bytes failed their CRC or framing check; they are never served.
        case corruption
        /// A read below the log-start offset (deleted by retention or compaction's start).
        case offsetOutOfRange = "offset_out_of_range"
        /// The log was closed.
        case closed
        /// The log was deleted (its topic is gone).
        case deleted
        /// A batch from an older leader epoch than the log has seen (a fenced leader).
        case staleLeaderEpoch = "stale_leader_epoch"
        /// A compacted log needs a key on every record.
        case missingKey = "missing_key"
        /// An idempotent producer's batch skips sequence numbers (batches were lost).
        case outOfOrderSequence = "out_of_order_sequence"
        /// An older epoch of an idempotent producer (a fenced instance).
        case invalidProducerEpoch = "invalid_producer_epoch"
        /// The configuration is invalid.
        case invalidConfiguration = "invalid_configuration"
        /// The operating system refused a file operation.
        case io
    }

    /// What kind of failure this is.
    public let code: Code
    /// What failed and what to do, for a person.
    public let message: String

    /// An error of `code` explained by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
