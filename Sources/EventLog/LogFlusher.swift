import Foundation

/// The threads that fsync partition logs, shared by every log configured with it: a log with
/// appenders waiting for durability, or with an interval flush due, is queued and one of a few
/// threads fsyncs it. So a node's thread count follows the disk (how many fsyncs it can take at
/// once), not its partition count. One log is never flushed by two threads at once: appends
/// arriving during its fsync wait and share the next one (group commit).
public final class LogFlusher: @unchecked Sendable, Hashable {
    // `queue`, `head`, `states`, `timers`, `timerSequence` and `threadsStarted` are guarded by
    // `condition` (also used to wake the threads).
    private let condition = NSCondition()
    /// How many threads fsync (started on first use).
    public let threadCount: Int
    private var threadsStarted = false
    /// Logs waiting for a thread, in order; entries before `head` were taken.
    private var queue: [PartitionLog] = []
    private var head = 0
    private var states: [ObjectIdentifier: State] = [:]
    private var timers = FlushTimers()
    private var timerSequence: UInt64 = 0

    private enum State {
        /// In `queue`.
        case queued
        /// A thread is flushing it.
        case running
        /// A thread is flushing it and it was asked for again meanwhile: queue it when done.
        case runningAndRequested
    }

    /// The flusher logs share unless configured otherwise (two threads).
    public static let shared = LogFlusher(threads: 2)

    /// A flusher of `threads` threads (at least one), started when first asked to flush.
    public init(threads: Int) {
        threadCount = max(threads, 1)
    }

    /// Queues `log` to be flushed as soon as a thread is free (once, however often it is asked
    /// before a thread takes it).
    func requestFlush(_ log: PartitionLog) {
        condition.lock()
        defer { condition.unlock() }
        enqueue(log)
    }

    /// Queues `log` to be flushed at `deadline` (uptime nanoseconds, as `DispatchTime`).
    func scheduleFlush(_ log: PartitionLog, at deadline: UInt64) {
        condition.lock()
        defer { condition.unlock() }
        timerSequence &+= 1
        timers.insert(FlushTimers.Timer(deadline: deadline, sequence: timerSequence, log: log))
        startThreadsIfNeeded()
        condition.signal()
    }

    /// Call under the lock.
    private func enqueue(_ log: PartitionLog) {
        let id = ObjectIdentifier(log)
        switch states[id] {
        case nil:
            states[id] = .queued
            queue.append(log)
            startThreadsIfNeeded()
            condition.signal()
        case .running:
            states[id] = .runningAndRequested
        case .queued, .runningAndRequested:
            break
        }
    }

    private func startThreadsIfNeeded() {
        guard !threadsStarted else { return }
        threadsStarted = true
        for index in 0..<threadCount {
            // Each thread holds the flusher only while it works or waits (at most a second), so
            // a flusher nobody uses any more is released and its threads end.
            let thread = Thread { [weak self] in
                while let flusher = self { flusher.step() }
            }
            thread.name = "ganglion.log.flusher.\(index)"
            thread.start()
        }
    }

    /// Flushes the next log due, or returns after waiting a while for one.
    private func step() {
        guard let log = next() else { return }
        log.flushForFlusher()
        condition.lock()
        let id = ObjectIdentifier(log)
        if states[id] == .runningAndRequested {
            states[id] = .queued
            queue.append(log)
            condition.signal()
        } else {
            states[id] = nil
        }
        condition.unlock()
    }

    /// The next log to flush (marked running), or `nil` after waiting a while for none.
    private func next() -> PartitionLog? {
        condition.lock()
        defer { condition.unlock() }
        if let log = takeNext() { return log }
        let now = DispatchTime.now().uptimeNanoseconds
        let wait = min(timers.first.map { $0.deadline > now ? $0.deadline - now : 0 } ?? 1_000_000_000, 1_000_000_000)
        _ = condition.wait(until: Date(timeIntervalSinceNow: Double(wait) / 1e9))
        return takeNext()
    }

    /// Queues the timers that are due, then takes the first queued log. Call under the lock.
    private func takeNext() -> PartitionLog? {
        let now = DispatchTime.now().uptimeNanoseconds
        while let timer = timers.first, timer.deadline <= now {
            timers.removeFirst()
            enqueue(timer.log)
        }
        guard head < queue.count else { return nil }
        let log = queue[head]
        head += 1
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)  // no taken log stays referenced
            head = 0
        } else if head >= 1024 && head * 2 >= queue.count {
            queue.removeFirst(head)
            head = 0
        }
        states[ObjectIdentifier(log)] = .running
        return log
    }

    /// Identity: two configurations are equal only with the same flusher.
    public static func == (lhs: LogFlusher, rhs: LogFlusher) -> Bool { lhs === rhs }
    /// Hashes the identity.
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// Interval flushes by deadline: a binary min-heap, earliest first.
struct FlushTimers {
    struct Timer {
        var deadline: UInt64
        var sequence: UInt64
        var log: PartitionLog

        func isEarlier(than other: Timer) -> Bool {
            (deadline, sequence) < (other.deadline, other.sequence)
        }
    }

    private var heap: [Timer] = []

    var first: Timer? { heap.first }

    mutating func insert(_ timer: Timer) {
        heap.append(timer)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].isEarlier(than: heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeFirst() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].isEarlier(than: heap[smallest]) { smallest = left }
            if right < heap.count, heap[right].isEarlier(than: heap[smallest]) { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
