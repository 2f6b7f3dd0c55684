import CZeroMQ
import Synchronization

/// One frame of a ZeroMQ message, owning a `zmq_msg_t`.
///
/// A frame's bytes never change after it is made, so it can be read from any thread and kept as
/// long as needed. Sending a frame does not copy its bytes: libzmq shares the buffer by reference
/// count, so a frame received from one socket can be handed on to many others as it is.
public final class Frame: @unchecked Sendable {
    // The bytes are immutable. The only mutation is libzmq's copy bookkeeping on the source
    // message (`zmq_msg_copy` marks it shared); `shareLock` serialises that, so concurrent
    // sends of one frame from several owner threads are safe.
    let message: UnsafeMutablePointer<zmq_msg_t>
    private let shareLock = Mutex<Void>(())

    /// An empty frame (zero bytes), e.g. the delimiter of a REQ/REP envelope.
    public convenience init() {
        self.init(uninitialized: ())
        zmq_msg_init(message)
    }

    /// A frame of `count` bytes written in place by `initializer`: the bytes are produced
    /// directly in the message buffer libzmq will send, with no intermediate copy.
    public convenience init(
        count: Int, initializingWith initializer: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws {
        self.init(uninitialized: ())
        guard zmq_msg_init_size(message, count) == 0 else {
            let error = ZeroMQError.last("zmq_msg_init_size \(count)")
            zmq_msg_init(message)
            throw error
        }
        try initializer(UnsafeMutableRawBufferPointer(start: zmq_msg_data(message), count: count))
    }

    /// A frame holding a copy of `bytes`.
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(uninitialized: ())
        Frame.initialise(message, copying: bytes)
    }

    /// A frame holding a copy of `bytes`.
    public convenience init<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        self.init(uninitialized: ())
        let copied: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            Frame.initialise(message, copying: UnsafeRawBufferPointer(buffer))
        }
        if copied == nil {
            Array(bytes).withUnsafeBytes { Frame.initialise(message, copying: $0) }
        }
    }

    /// A frame holding the UTF-8 bytes of `string` (no terminating NUL).
    public convenience init(_ string: String) {
        var string = string
        self.init(uninitialized: ())
        string.withUTF8 { Frame.initialise(message, copying: UnsafeRawBufferPointer($0)) }
    }

    /// Takes ownership of an initialised message (received or copied); `raw` is left empty.
    init(taking raw: UnsafeMutablePointer<zmq_msg_t>) {
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
        zmq_msg_move(message, raw)
    }

    private init(uninitialized: Void) {
        message = .allocate(capacity: 1)
    }

    private static func initialise(_ message: UnsafeMutablePointer<zmq_msg_t>, copying bytes: UnsafeRawBufferPointer) {
        // zmq_msg_init_size only fails when malloc does, which libzmq itself treats as fatal.
        precondition(zmq_msg_init_size(message, bytes.count) == 0, "zmq_msg_init_size: out of memory")
        if let source = bytes.baseAddress, !bytes.isEmpty {
            zmq_msg_data(message).copyMemory(from: source, byteCount: bytes.count)
        }
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    /// The number of bytes in the frame.
    public var count: Int { zmq_msg_size(message) }

    /// Whether the frame holds no bytes.
    public var isEmpty: Bool { count == 0 }

    /// Lends the frame's bytes, without copying, for the duration of `body`.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message)))
    }

    /// A copy of the frame's bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The frame's bytes decoded as UTF-8 (invalid sequences repaired).
    public var string: String { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    /// Makes the initialised message `target` a new reference to this frame's buffer (no byte
    /// copy for large frames).
    func share(into target: UnsafeMutablePointer<zmq_msg_t>) {
        shareLock.withLock { _ in
            // Fails only for an invalid source message, which a Frame never holds.
            precondition(zmq_msg_copy(target, message) == 0, "zmq_msg_copy of a valid frame failed")
        }
    }
}

extension Frame: Equatable {
    /// Frames are equal when their bytes are.
    public static func == (lhs: Frame, rhs: Frame) -> Bool {
        lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { right in left.elementsEqual(right) } }
    }
}

extension Frame: CustomStringConvertible {
    /// The size and, for short frames, the bytes in hex.
    public var description: String {
        let prefix = withUnsafeBytes { $0.prefix(16).map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
        return "Frame(\(count) bytes: \(prefix)\(count > 16 ? "…" : ""))"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
