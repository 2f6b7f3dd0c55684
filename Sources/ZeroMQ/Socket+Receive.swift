import CZeroMQ

extension Socket {
    /// Receives one frame, which the caller may keep or hand on to another socket as it is.
    /// - Parameter blocking: wait (up to the receive timeout) for a frame; otherwise fail at once.
    /// - Throws: ``ZeroMQError`` with ``ZeroMQError/Code/wouldBlock`` when no frame arrived.
    public func receiveFrame(blocking: Bool = true) throws -> Frame {
        try withMessage { incoming in
            guard try receiveMessage(incoming, blocking: blocking) else { throw wouldBlock() }
            return Frame(taking: incoming)
        }
    }

    /// Receives one frame and lends its bytes to `body` without copying or allocating; the bytes
    /// are valid only inside `body`. `more` says whether more frames of this message follow.
    public func receive<Result>(
        blocking: Bool = true, _ body: (_ bytes: UnsafeRawBufferPointer, _ more: Bool) throws -> Result
    ) throws -> Result {
        guard try receiveMessage(scratch, blocking: blocking) else { throw wouldBlock() }
        let bytes = UnsafeRawBufferPointer(start: zmq_msg_data(scratch), count: zmq_msg_size(scratch))
        return try body(bytes, zmq_msg_more(scratch) != 0)
    }

    /// Receives a whole multipart message.
    /// - Parameter maxFrames: the most frames accepted; a longer message is received to its end
    ///   (so the socket stays usable) and refused with ``ZeroMQError/Code/messageTooLarge``.
    public func receiveMultipart(blocking: Bool = true, maxFrames: Int = 1024) throws -> [Frame] {
        guard let frames = try receiveWhole(blocking: blocking, maxFrames: maxFrames) else { throw wouldBlock() }
        return frames
    }

    /// A whole message of at most `maxFrames` frames (a longer one is refused); nil when `blocking`
    /// is false and none waits.
    private func receiveWhole(blocking: Bool, maxFrames: Int) throws -> [Frame]? {
        guard let (frames, total) = try receiveHead(blocking: blocking, keeping: maxFrames) else { return nil }
        guard total <= maxFrames else {
            throw ZeroMQError(code: .messageTooLarge, message: "message of \(total) frames exceeds the limit of \(maxFrames)", operation: "receive on \(type)")
        }
        return frames
    }

    /// Receives a multipart message if one is waiting, keeping at most its first `keeping` frames
    /// (the rest are received and dropped, so the socket stays usable); `total` counts them all.
    /// A server uses it to answer an over-long request instead of losing who sent it.
    public func tryReceiveMultipartHead(keeping: Int) throws -> (frames: [Frame], total: Int)? {
        try receiveHead(blocking: false, keeping: keeping)
    }

    /// Receives one whole message, keeping its first `keeping` frames and counting them all; nil
    /// when `blocking` is false and none waits.
    private func receiveHead(blocking: Bool, keeping: Int) throws -> (frames: [Frame], total: Int)? {
        var frames: [Frame] = []
        let total = try withMessage { incoming -> Int? in
            guard try receiveMessage(incoming, blocking: blocking) else { return nil }
            var total = 1
            frames.append(Frame(taking: incoming))
            while try hasMoreFrames {
                // The rest of a message is already here: libzmq delivers messages atomically.
                guard try receiveMessage(incoming, blocking: true) else { throw wouldBlock() }
                total += 1
                if frames.count < keeping { frames.append(Frame(taking: incoming)) }
            }
            return total
        }
        return total.map { (frames, $0) }
    }

    /// Receives a multipart message if one is waiting; `nil` when none is.
    public func tryReceiveMultipart(maxFrames: Int = 1024) throws -> [Frame]? {
        try receiveWhole(blocking: false, maxFrames: maxFrames)
    }

    /// Runs `body` with an initialised message at a stable stack address, closed afterwards
    /// (closing an emptied or failed-to-send message is what libzmq asks for).
    func withMessage<Result>(_ body: (UnsafeMutablePointer<zmq_msg_t>) throws -> Result) rethrows -> Result {
        try withUnsafeTemporaryAllocation(of: zmq_msg_t.self, capacity: 1) { buffer in
            let message = buffer.baseAddress!
            zmq_msg_init(message)
            defer { zmq_msg_close(message) }
            return try body(message)
        }
    }

    /// Receives into a message the caller initialised; retries on EINTR. False when nothing
    /// arrived (non-blocking with none waiting, or the receive timeout passed): every drain of a
    /// socket ends that way, so it makes no error (whose texts and box cost more than the receive).
    func receiveMessage(_ message: UnsafeMutablePointer<zmq_msg_t>, blocking: Bool) throws -> Bool {
        let handle = try open("receive")
        let flags = blocking ? 0 : ZMQ_DONTWAIT
        while zmq_msg_recv(message, handle, flags) < 0 {
            let errno = zmq_errno()
            if errno == EAGAIN { return false }
            if errno != EINTR { throw ZeroMQError(errno: errno, operation: "receive on \(type)") }
        }
        recordReceived()
        return true
    }

    /// The error for a receive that found nothing where the caller asked for a message.
    func wouldBlock() -> ZeroMQError { ZeroMQError(errno: EAGAIN, operation: "receive on \(type)") }
}
