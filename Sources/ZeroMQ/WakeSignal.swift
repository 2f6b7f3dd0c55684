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

/// A timerfd that wakes the loop's poller at its next timer's deadline, to the microsecond
/// (`zmq_poll` alone counts in milliseconds). Used only by the loop thread.
final class TimerSignal: @unchecked Sendable {
    /// The descriptor to poll for readability.
    let fileDescriptor: Int32
    private var armed: ContinuousClock.Instant?

    init() throws {
        let fd = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
        guard fd >= 0 else {
            throw ZeroMQError(
                code: .other, message: "timerfd_create failed: \(String(cString: strerror(errno)))", operation: "timerfd_create")
        }
        fileDescriptor = fd
    }

    /// Arms the timer for `deadline` (or disarms it for nil); a no-op when already so armed.
    func arm(_ deadline: ContinuousClock.Instant?) {
        guard deadline != armed else { return }
        armed = deadline
        var setting = itimerspec()
        if let deadline {
            // Relative, so the clock behind ContinuousClock does not matter; at least 1 ns (0 disarms).
            let (seconds, attoseconds) = max(.nanoseconds(1), ContinuousClock.now.duration(to: deadline)).components
            setting.it_value = timespec(tv_sec: Int(seconds), tv_nsec: max(1, Int(attoseconds / 1_000_000_000)))
        }
        timerfd_settime(fileDescriptor, 0, &setting, nil)
    }

    /// Clears a fired timer (called by the polling thread); it must be armed again.
    func drain() {
        var expirations: UInt64 = 0
        _ = read(fileDescriptor, &expirations, 8)
        armed = nil
    }

    deinit { close(fileDescriptor) }
}
