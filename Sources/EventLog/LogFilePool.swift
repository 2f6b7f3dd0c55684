#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Bounds the file descriptors that logs' segment files hold open, across every log that shares
/// the pool: the least recently used idle descriptor is closed when the bound is reached, and its
/// file reopens on its next use. A node with thousands of idle partitions so holds at most
/// `limit` descriptors for them (plus those in use at that moment), not three per segment.
public final class LogFilePool: @unchecked Sendable, Hashable {
    // `openCount`, `oldest`, `newest` and every `Slot`'s fields are guarded by `lock`.
    private let lock = NSLock()
    /// Most descriptors kept open; exceeded only by files in use at once.
    public let limit: Int
    private var openCount = 0
    /// Idle open slots, least recently used first (a doubly linked list through the slots).
    private var oldest: Slot?
    private var newest: Slot?

    /// One file's descriptor as the pool sees it. Its fields are guarded by the pool's lock.
    final class Slot: @unchecked Sendable {
        var descriptor: Int32 = -1
        /// Operations using the descriptor now (or holds: see ``LogFile/holdOpen()``); not evictable while > 0.
        var users = 0
        var older: Slot?
        var newer: Slot?
        var listed = false
        /// The file first opened (device, inode): a reopen must find the same file.
        var identity: (device: UInt64, inode: UInt64)?
    }

    /// The pool logs share unless configured otherwise: a quarter of the process's descriptor
    /// limit, at most 1 024.
    public static let shared = LogFilePool(limit: defaultLimit)

    /// A quarter of the soft `RLIMIT_NOFILE`, between 16 and 1 024.
    public static var defaultLimit: Int {
        var limits = rlimit()
        #if canImport(Glibc)
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limits) == 0 else { return 256 }
        return Int(min(max(limits.rlim_cur / 4, 16), 1024))
    }

    /// A pool keeping at most `limit` idle descriptors open (at least 2).
    public init(limit: Int) {
        self.limit = max(limit, 2)
    }

    /// Descriptors open now (idle and in use).
    public var openDescriptors: Int { lock.withLock { openCount } }

    /// Opens `slot`'s file now with `flags` (creating it, for instance), leaving it idle.
    func open(_ slot: Slot, path: String, flags: Int32) throws {
        _ = try acquire(slot, path: path, flags: flags)
        release(slot)
    }

    /// The slot's descriptor, opened (evicting the least recently used idle one at the bound)
    /// when it was closed; the slot stays in use until ``release(_:)``.
    func acquire(_ slot: Slot, path: String, flags: Int32 = O_RDWR | O_CLOEXEC) throws -> Int32 {
        try lock.withLock {
            if slot.descriptor >= 0 {
                if slot.users == 0 { unlist(slot) }
                slot.users += 1
                return slot.descriptor
            }
            while openCount >= limit, let victim = oldest {
                unlist(victim)
                close(victim.descriptor)
                victim.descriptor = -1
                openCount -= 1
            }
            let descriptor = systemOpen(path, flags, 0o644)
            guard descriptor >= 0 else { throw LogFile.error("open", path) }
            var info = stat()
            guard fstat(descriptor, &info) == 0 else {
                defer { close(descriptor) }
                throw LogFile.error("stat", path)
            }
            let identity = (device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            if let expected = slot.identity, expected != identity {
                close(descriptor)
                throw LogError(.io, "\(path) was replaced since it was opened; reopen the log to read the new file")
            }
            slot.identity = identity
            slot.descriptor = descriptor
            slot.users = 1
            openCount += 1
            return descriptor
        }
    }

    /// Ends one use of the slot's descriptor; idle, it becomes the most recently used.
    func release(_ slot: Slot) {
        lock.withLock {
            slot.users -= 1
            if slot.users == 0 && slot.descriptor >= 0 { list(slot) }
        }
    }

    /// Closes the slot's descriptor for good (its file is gone from the log).
    func forget(_ slot: Slot) {
        lock.withLock {
            if slot.listed { unlist(slot) }
            if slot.descriptor >= 0 {
                close(slot.descriptor)
                slot.descriptor = -1
                openCount -= 1
            }
        }
    }

    private func list(_ slot: Slot) {
        slot.older = newest
        slot.newer = nil
        newest?.newer = slot
        newest = slot
        if oldest == nil { oldest = slot }
        slot.listed = true
    }

    private func unlist(_ slot: Slot) {
        guard slot.listed else { return }
        if let older = slot.older { older.newer = slot.newer } else { oldest = slot.newer }
        if let newer = slot.newer { newer.older = slot.older } else { newest = slot.older }
        slot.older = nil
        slot.newer = nil
        slot.listed = false
    }

    /// Identity: two configurations are equal only with the same pool.
    public static func == (lhs: LogFilePool, rhs: LogFilePool) -> Bool { lhs === rhs }
    /// Hashes the identity.
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
    #if canImport(Glibc)
    Glibc.open(path, flags, mode)
    #else
    Darwin.open(path, flags, mode)
    #endif
}
