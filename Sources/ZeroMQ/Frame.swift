import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// One frame of a ZeroMQ message, owning a `zmq_msg_t`.
///
/// A frame's bytes never change after it is made, so it can be read from any thread and kept as
/// long as needed. Sending a frame does not copy its bytes: libzmq shares the buffer by reference
/// count, so a frame received from one socket can be handed on to many others as it is.
public struct Frame: @unchecked Sendable {
    // The bytes are immutable. The only mutation is libzmq's copy bookkeeping on the source
    // message (`zmq_msg_copy` marks it shared); the storage's mutex serialises that, so
    // concurrent sends of one frame from several owner threads are safe.
    let storage: FrameStorage

    /// The frame's `zmq_msg_t`, valid while `storage` is alive.
    var message: UnsafeMutablePointer<zmq_msg_t> { storage.message }

    /// An empty frame (zero bytes), e.g. the delimiter of a REQ/REP envelope.
    public init() {
        storage = FrameStorage.make()
        zmq_msg_init(message)
    }

    /// A frame of `count` bytes written in place by `initializer`: the bytes are produced
    /// directly in the message buffer libzmq will send, with no intermediate copy.
    public init(
        count: Int, initializingWith initializer: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws {
        storage = FrameStorage.make()
        guard zmq_msg_init_size(message, count) == 0 else {
            let error = ZeroMQError.last("zmq_msg_init_size \(count)")
            zmq_msg_init(message)
            throw error
        }
        try initializer(UnsafeMutableRawBufferPointer(start: zmq_msg_data(message), count: count))
    }

    /// A frame holding a copy of `bytes`.
    public init(copying bytes: UnsafeRawBufferPointer) {
        storage = FrameStorage.make()
        Frame.initialise(message, copying: bytes)
    }

    /// A frame holding a copy of `bytes`.
    public init<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        storage = FrameStorage.make()
        let message = self.message
        let copied: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            Frame.initialise(message, copying: UnsafeRawBufferPointer(buffer))
        }
        if copied == nil {
            Array(bytes).withUnsafeBytes { Frame.initialise(message, copying: $0) }
        }
    }

    /// A frame holding the UTF-8 bytes of `string` (no terminating NUL).
    public init(_ string: String) {
        var string = string
        storage = FrameStorage.make()
        let message = self.message
        string.withUTF8 { Frame.initialise(message, copying: UnsafeRawBufferPointer($0)) }
    }

    /// Takes ownership of an initialised message (received or copied); `raw` is left empty.
    init(taking raw: UnsafeMutablePointer<zmq_msg_t>) {
        storage = FrameStorage.make()
        zmq_msg_init(message)
        zmq_msg_move(message, raw)
    }

    private static func initialise(_ message: UnsafeMutablePointer<zmq_msg_t>, copying bytes: UnsafeRawBufferPointer) {
        // zmq_msg_init_size only fails when malloc does, which libzmq itself treats as fatal.
        precondition(zmq_msg_init_size(message, bytes.count) == 0, "zmq_msg_init_size: out of memory")
        if let source = bytes.baseAddress, !bytes.isEmpty {
            zmq_msg_data(message).copyMemory(from: source, byteCount: bytes.count)
        }
    }

    /// The number of bytes in the frame.
    public var count: Int { zmq_msg_size(message) }

    /// Whether the frame holds no bytes.
    public var isEmpty: Bool { count == 0 }

    /// Lends the frame's bytes, without copying, for the duration of `body`.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message)))
    }

    /// A metadata property of a received frame (`zmq_msg_gets`), e.g. `User-Id` (the user id a
    /// ZAP handler gave the sender's connection) or `Peer-Address`; nil when the frame has none.
    public func property(_ name: String) -> String? {
        guard let value = zmq_msg_gets(message, name) else { return nil }
        return String(cString: value)
    }

    /// The user id the ZAP handler gave the connection this frame arrived on, if any.
    public var userID: String? { property("User-Id") }

    /// A copy of the frame's bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The frame's bytes decoded as UTF-8 (invalid sequences repaired).
    public var string: String { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    /// Makes the initialised message `target` a new reference to this frame's buffer (no byte
    /// copy for large frames).
    func share(into target: UnsafeMutablePointer<zmq_msg_t>) {
        storage.withShareLock {
            // Fails only for an invalid source message, which a Frame never holds.
            precondition(zmq_msg_copy(target, message) == 0, "zmq_msg_copy of a valid frame failed")
        }
    }
}

/// One heap object per frame: a mutex header and the `zmq_msg_t` as its tail element, so a
/// frame costs a single allocation and the message never moves.
final class FrameStorage: ManagedBuffer<pthread_mutex_t, zmq_msg_t> {
    /// A storage whose message is not yet initialised (the caller initialises it at once).
    static func make() -> FrameStorage {
        // PTHREAD_MUTEX_INITIALIZER is all zeros on Linux and needs no destroy.
        unsafeDowncast(create(minimumCapacity: 1) { _ in pthread_mutex_t() }, to: FrameStorage.self)
    }

    /// The message; stable for the life of the object (tail storage never moves).
    var message: UnsafeMutablePointer<zmq_msg_t> { withUnsafeMutablePointerToElements { $0 } }

    func withShareLock(_ body: () -> Void) {
        withUnsafeMutablePointerToHeader { lock in
            pthread_mutex_lock(lock)
            body()
            pthread_mutex_unlock(lock)
        }
    }

    deinit {
        _ = withUnsafeMutablePointerToElements { zmq_msg_close($0) }
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
