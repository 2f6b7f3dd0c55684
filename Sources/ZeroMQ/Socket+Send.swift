import CZeroMQ

extension Socket {
    /// Sends one frame. The frame stays valid (its buffer is shared, not copied), so it can be
    /// sent again or elsewhere.
    /// - Parameters:
    ///   - more: more frames of the same message follow.
    ///   - blocking: wait (up to the send timeout) when the socket cannot send; otherwise fail at once.
    /// - Throws: ``ZeroMQError`` with ``ZeroMQError/Code/wouldBlock`` when nothing was sent.
    public func send(_ frame: Frame, more: Bool = false, blocking: Bool = true) throws {
        try withMessage { outgoing in
            frame.share(into: outgoing)
            try sendMessage(outgoing, flags: flags(more: more, blocking: blocking))
        }
    }

    /// Sends a copy of `bytes` as one frame (libzmq copies them once into its message).
    public func send(bytes: UnsafeRawBufferPointer, more: Bool = false, blocking: Bool = true) throws {
        let handle = try open("send")
        let flags = flags(more: more, blocking: blocking)
        while zmq_send(handle, bytes.baseAddress, bytes.count, flags) < 0 {
            try failedSend(zmq_errno())
        }
        recordSent()
    }

    /// Sends a copy of `bytes` as one frame.
    public func send<Bytes: Collection>(_ bytes: Bytes, more: Bool = false, blocking: Bool = true) throws
    where Bytes.Element == UInt8 {
        let sent: Void? = try bytes.withContiguousStorageIfAvailable {
            try send(bytes: UnsafeRawBufferPointer($0), more: more, blocking: blocking)
        }
        if sent == nil {
            try Array(bytes).withUnsafeBytes { try send(bytes: $0, more: more, blocking: blocking) }
        }
    }

    /// Sends the UTF-8 bytes of `string` as one frame.
    public func send(_ string: String, more: Bool = false, blocking: Bool = true) throws {
        var string = string
        try string.withUTF8 { try send(bytes: UnsafeRawBufferPointer($0), more: more, blocking: blocking) }
    }

    /// Sends a multipart message. libzmq delivers a message whole or not at all; a would-block
    /// can only happen on the first frame, and then nothing was sent.
    public func send(multipart frames: [Frame], blocking: Bool = true) throws {
        guard !frames.isEmpty else {
            throw ZeroMQError(code: .invalidArgument, message: "a message has at least one frame", operation: "send")
        }
        for (index, frame) in frames.enumerated() {
            try send(frame, more: index < frames.count - 1, blocking: blocking)
        }
    }

    /// Sends without blocking; returns `false` (and counts a refusal) when the socket would block.
    @discardableResult
    public func trySend(multipart frames: [Frame]) throws -> Bool {
        do {
            try send(multipart: frames, blocking: false)
            return true
        } catch let error as ZeroMQError where error.isWouldBlock {
            return false
        }
    }

    /// Sends a message libzmq owns; on success libzmq has taken its content.
    func sendMessage(_ message: UnsafeMutablePointer<zmq_msg_t>, flags: Int32) throws {
        let handle = try open("send")
        // After a failed send the caller still owns the message; it is closed by our caller.
        while zmq_msg_send(message, handle, flags) < 0 {
            try failedSend(zmq_errno())
        }
        recordSent()
    }

    /// Decides what a failed send means: retry on EINTR, otherwise a typed error.
    private func failedSend(_ errno: Int32) throws {
        if errno == EINTR { return }
        if errno == EAGAIN { recordRefused() }
        throw ZeroMQError(errno: errno, operation: "send on \(type)")
    }

    private func flags(more: Bool, blocking: Bool) -> Int32 {
        (more ? ZMQ_SNDMORE : 0) | (blocking ? 0 : ZMQ_DONTWAIT)
    }
}
