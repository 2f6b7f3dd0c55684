import CZeroMQ

extension Socket {
    /// Receives one frame, which the caller may keep or hand on to another socket as it is.
    /// - Parameter blocking: wait (up to the receive timeout) for a frame; otherwise fail at once.
    /// - Throws: ``ZeroMQError`` with ``ZeroMQError/Code/wouldBlock`` when no frame arrived.
    public func receiveFrame(blocking: Bool = true) throws -> Frame {
        try withMessage { incoming in
            try receiveMessage(incoming, blocking: blocking)
            return Frame(taking: incoming)
        }
    }

    /// Receives one frame and lends its bytes to `body` without copying or allocating; the bytes
    /// are valid only inside `body`. `more` says whether more frames of this message follow.
    public func receive<Result>(
        blocking: Bool = true, _ body: (_ bytes: UnsafeRawBufferPointer, _ more: Bool) throws -> Result
    ) throws -> Result {
        try receiveMessage(scratch, blocking: blocking)
        let bytes = UnsafeRawBufferPointer(start: zmq_msg_data(scratch), count: zmq_msg_size(scratch))
        return try body(bytes, zmq_msg_more(scratch) != 0)
    }

    /// Receives a whole multipart message.
    /// - Parameter maxFrames: the most frames accepted; a longer message is received to its end
    ///   (so the socket stays usable) and refused with ``ZeroMQError/Code/messageTooLarge``.
    public func receiveMultipart(blocking: Bool = true, maxFrames: Int = 1024) throws -> [Frame] {
        let (frames, total) = try receiveHead(blocking: blocking, keeping: maxFrames)
        guard total <= maxFrames else {
            throw ZeroMQError(
                code: .messageTooLarge, message: "message of \(total) frames exceeds the limit of \(maxFrames)",
                operation: "receive on \(type)")
        }
        return frames
    }

    /// Receives a multipart message if one is waiting, keeping at most its first `keeping` frames
    /// (the rest are received and dropped, so the socket stays usable); `total` counts them all.
    /// A server uses it to answer an over-long request instead of losing who sent it.
    public func tryReceiveMultipartHead(keeping: Int) throws -> (frames: [Frame], total: Int)? {
        do {
            return try receiveHead(blocking: false, keeping: keeping)
        } catch let error as ZeroMQError where error.isWouldBlock {
            return nil
        }
    }

    /// Receives one whole message, keeping its first `keeping` frames and counting them all.
    private func receiveHead(blocking: Bool, keeping: Int) throws -> (frames: [Frame], total: Int) {
        var frames: [Frame] = []
        let total = try withMessage { incoming in
            try receiveMessage(incoming, blocking: blocking)
            var total = 1
            frames.append(Frame(taking: incoming))
            while try hasMoreFrames {
                // The rest of a message is already here: libzmq delivers messages atomically.
                try receiveMessage(incoming, blocking: true)
                total += 1
                if frames.count < keeping { frames.append(Frame(taking: incoming)) }
            }
            return total
        }
        return (frames, total)
    }

    /// Receives a multipart message if one is waiting; `nil` when none is.
    public func tryReceiveMultipart(maxFrames: Int = 1024) throws -> [Frame]? {
        do {
            return try receiveMultipart(blocking: false, maxFrames: maxFrames)
        } catch let error as ZeroMQError where error.isWouldBlock {
            return nil
        }
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

    /// Receives into a message the caller initialised; retries on EINTR.
    func receiveMessage(_ message: UnsafeMutablePointer<zmq_msg_t>, blocking: Bool) throws {
        let handle = try open("receive")
        let flags = blocking ? 0 : ZMQ_DONTWAIT
        while zmq_msg_recv(message, handle, flags) < 0 {
            let errno = zmq_errno()
            if errno != EINTR { throw ZeroMQError(errno: errno, operation: "receive on \(type)") }
        }
        recordReceived()
    }
}
