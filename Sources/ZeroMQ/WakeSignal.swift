import CZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// An eventfd that other threads write to wake a thread blocked in ``Poller/poll(timeout:)``.
final class WakeSignal: Sendable {
    /// The descriptor to poll for readability.
    let fileDescriptor: Int32

    init() throws {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else {
            throw ZeroMQError(
                code: .other, message: "eventfd failed: \(String(cString: strerror(errno)))", operation: "eventfd")
        }
        fileDescriptor = fd
    }

    /// Wakes the poller. Safe from any thread; wakes are coalesced by the kernel counter.
    func wake() {
        var one: UInt64 = 1
        while write(fileDescriptor, &one, 8) < 0 && errno == EINTR {}
    }

    /// Resets the signal after a wake (called by the polling thread).
    func drain() {
        var value: UInt64 = 0
        while read(fileDescriptor, &value, 8) < 0 && errno == EINTR {}
    }

    deinit { close(fileDescriptor) }
}
