import Foundation

/// Storage faults a test injects into a log, to prove the log's answer to each: an fsync that
/// fails (as on a full or failing disk), and a machine crash that loses what was written but not
/// yet fsynced (LazyFS's model: at the crash each file keeps its synced contents plus none, all,
/// or a prefix torn at a random byte of the writes after its last fsync). Production logs have
/// none.
public final class LogFaults: @unchecked Sendable, Hashable {
    // Every mutable property is guarded by `lock`, which is also held across each modelled file
    // operation, so a crash never lands in the middle of one.
    private let lock = NSLock()
    private var failingSyncs = 0
    private var slowSyncs = 0
    private var failingDirectorySyncs = 0
    private var directorySyncs: [String] = []
    private var syncDelay = Duration.zero
    /// Writes and truncations since each file's last fsync, oldest first, by path.
    private var unsynced: [String: [UnsyncedChange]] = [:]
    private var operations = 0
    private var scheduledCrash: (operation: Int, seed: UInt64)?
    private var crashReport: CrashReport?

    /// What a simulated crash did to the files.
    public struct CrashReport: Sendable, Hashable {
        /// The seed that chose each file's fate (replays the crash exactly).
        public var seed: UInt64
        /// The file operation the crash came before (1 = the first), or `nil` when called directly.
        public var operation: Int?
        /// Files that lost every unsynced change.
        public var dropped: [String] = []
        /// Files cut inside their unsynced changes (some kept, the next one torn).
        public var torn: [String] = []
        /// Files whose unsynced changes all reached the disk before the crash.
        public var kept: [String] = []
    }

    /// No faults until one is asked for.
    public init() {}

    /// Makes the next `count` fsyncs of the log's segments fail with EIO.
    public func failNextSyncs(_ count: Int) { lock.withLock { failingSyncs += count } }

    /// Makes the next `count` fsyncs of the log's directories (or their parents) fail with EIO.
    public func failNextDirectorySyncs(_ count: Int) { lock.withLock { failingDirectorySyncs += count } }

    /// Every directory fsynced so far, in order.
    public var syncedDirectories: [String] { lock.withLock { directorySyncs } }

    /// Records an fsync of directory `path`; false when it is to fail.
    func takeDirectorySync(_ path: String) -> Bool {
        lock.withLock {
            directorySyncs.append(path)
            guard failingDirectorySyncs > 0 else { return true }
            failingDirectorySyncs -= 1
            return false
        }
    }

    /// Makes the next `count` fsyncs of the log's segments take `delay` longer (a slow disk).
    public func delayNextSyncs(_ count: Int, by delay: Duration) {
        lock.withLock {
            slowSyncs += count
            syncDelay = delay
        }
    }

    /// How long this fsync is to stall (counting it off); nil for no stall.
    func takeSyncDelay() -> Duration? {
        lock.withLock {
            guard slowSyncs > 0 else { return nil }
            slowSyncs -= 1
            return syncDelay
        }
    }

    /// Whether this fsync is to fail (counting it off).
    func takeSyncFailure() -> Bool {
        lock.withLock {
            guard failingSyncs > 0 else { return false }
            failingSyncs -= 1
            return true
        }
    }

    /// Crashes the machine just before the `operation`-th file operation (write, truncation or
    /// fsync) from now, with `seed` choosing what each file loses; that operation and every later
    /// one fail with EIO.
    public func scheduleCrash(beforeOperation operation: Int, seed: UInt64) {
        lock.withLock { scheduledCrash = (operations + max(operation, 1), seed) }
    }

    /// Crashes the machine now: every file loses its unsynced changes, or some of them (see the
    /// type's summary), as `seed` chooses; later file operations fail with EIO. Reopen the log's
    /// directory with a new log (and no faults, or new ones) to recover.
    @discardableResult
    public func crash(seed: UInt64) -> CrashReport {
        lock.withLock { crashNow(seed: seed, operation: nil) }
    }

    /// What the crash did, once there was one.
    public var crashed: CrashReport? { lock.withLock { crashReport } }

    /// The file operations modelled, with what undoes them.
    enum Operation {
        case write(offset: Int, bytes: [UInt8])
        case truncate(size: Int)
        case sync
    }

    /// Runs one operation on `file` under the model: refused after a crash (or as the crash),
    /// remembered until the file's next fsync otherwise.
    func perform(_ operation: Operation, on file: LogFile, _ body: () throws -> Void) throws {
        if case .sync = operation, let delay = takeSyncDelay() {
            // Stalled outside the lock: other files' operations go on meanwhile, as on a slow disk.
            Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
        }
        try lock.withLock {
            operations += 1
            if crashReport == nil, let scheduled = scheduledCrash, operations >= scheduled.operation {
                crashNow(seed: scheduled.seed, operation: operations)
            }
            if let crashReport {
                throw LogError(.io, "\(file.path): the simulated machine crashed (seed \(crashReport.seed))")
            }
            switch operation {
            case .sync:
                try body()
                unsynced[file.path] = nil
            case .write(let offset, let bytes):
                let size = try file.size()
                let overwritten = try file.read(at: offset, count: max(0, min(offset + bytes.count, size) - offset))
                try body()
                unsynced[file.path, default: []].append(
                    UnsyncedChange(previousSize: size, restoreAt: offset, restore: overwritten, write: bytes))
            case .truncate(let size):
                let previous = try file.size()
                let cut = try file.read(at: size, count: max(0, previous - size))
                try body()
                unsynced[file.path, default: []].append(
                    UnsyncedChange(previousSize: previous, restoreAt: size, restore: cut, write: nil))
            }
        }
    }

    /// Forgets the changes of a file that was deleted (a new file may take its path).
    func forget(_ path: String) {
        lock.withLock { unsynced[path] = nil }
    }

    /// Call under the lock.
    private func crashNow(seed: UInt64, operation: Int?) -> CrashReport {
        var report = CrashReport(seed: seed, operation: operation)
        var random = SplitMix(state: seed)
        for path in unsynced.keys.sorted() {
            let changes = unsynced[path]!
            guard !changes.isEmpty else { continue }
            switch random.next() % 3 {
            case 0:
                report.dropped.append(path)
                UnsyncedChange.undo(changes[...], in: path)
            case 1:
                report.torn.append(path)
                let cut = Int(random.next() % UInt64(changes.count))
                UnsyncedChange.undo(changes[cut...], in: path)
                if let write = changes[cut].write, !write.isEmpty {
                    // The torn change: a prefix of its bytes reached the disk.
                    UnsyncedChange.write(Array(write.prefix(Int(random.next() % UInt64(write.count)))), at: changes[cut].restoreAt, in: path)
                }
            default:
                report.kept.append(path)
            }
        }
        unsynced = [:]
        crashReport = report
        return report
    }

    /// Identity: two configurations are equal only with the same injector.
    public static func == (lhs: LogFaults, rhs: LogFaults) -> Bool { lhs === rhs }
    /// Hashes the identity.
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// A seeded generator (SplitMix64), so a crash replays from its seed.
private struct SplitMix {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
