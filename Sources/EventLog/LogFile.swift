#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file of the log. Its descriptor comes from a ``LogFilePool``, which may close it while the
/// file is idle and reopens it on the next use; ``holdOpen()`` keeps it open until the file is
/// released (so a reader holding it can finish even after retention deleted the file).
final class LogFile: @unchecked Sendable {
    // Positional I/O (pread/pwrite/fsync) is safe from several threads on one descriptor; the
    // slot is guarded by the pool's lock, and the pool never closes a descriptor in use.
    let path: String
    private let pool: LogFilePool
    private let slot = LogFilePool.Slot()
    /// Injected faults: writes, truncations and fsyncs go through their crash model.
    private let faults: LogFaults?

    /// Opens (creating when `create`) the file at `path` for reading and writing.
    init(path: String, create: Bool, pool: LogFilePool = .shared, faults: LogFaults? = nil) throws {
        self.path = path
        self.pool = pool
        self.faults = faults
        try pool.open(slot, path: path, flags: O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0))
    }

    deinit { pool.forget(slot) }

    /// Runs `body` with the file's descriptor, reopening it if the pool had closed it.
    private func withDescriptor<T>(_ body: (Int32) throws -> T) throws -> T {
        let descriptor = try pool.acquire(slot, path: path)
        defer { pool.release(slot) }
        return try body(descriptor)
    }

    /// Keeps the file open until it is released, however long the pool's LRU: call before its
    /// path is unlinked or replaced, so holders of this file still read what it held.
    func holdOpen() throws {
        _ = try pool.acquire(slot, path: path)
    }

    /// The file's current size.
    func size() throws -> Int {
        try withDescriptor { descriptor in
            var info = stat()
            guard fstat(descriptor, &info) == 0 else { throw LogFile.error("stat", path) }
            return Int(info.st_size)
        }
    }

    /// Reads up to `count` bytes at `offset`.
    func read(at offset: Int, count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        return try withDescriptor { descriptor in try read(descriptor, at: offset, count: count) }
    }

    private func read(_ descriptor: Int32, at offset: Int, count: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
            var done = 0
            while done < count {
                let got = pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if got < 0 {
                    if errno == EINTR { continue }
                    throw LogFile.error("read", path)
                }
                if got == 0 { break }
                done += got
            }
            initialised = done
        }
    }

    /// Writes all of `parts`, in order, at `offset` (one vectored write where possible).
    func write(_ parts: [UnsafeRawBufferPointer], at offset: Int) throws {
        guard let faults else { return try withDescriptor { descriptor in try write(descriptor, parts, at: offset) } }
        try faults.perform(.write(offset: offset, bytes: parts.flatMap { Array($0) }), on: self) {
            try withDescriptor { descriptor in try write(descriptor, parts, at: offset) }
        }
    }

    private func write(_ descriptor: Int32, _ parts: [UnsafeRawBufferPointer], at offset: Int) throws {
        var vectors = parts.filter { !$0.isEmpty }.map {
            iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
        }
        var position = offset
        var index = 0
        while index < vectors.count {
            let written = vectors[index...].withUnsafeBufferPointer { buffer in
                pwritev(descriptor, buffer.baseAddress, Int32(buffer.count), off_t(position))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw LogFile.error("write", path)
            }
            position += written
            var remaining = written
            while index < vectors.count, remaining >= vectors[index].iov_len {
                remaining -= vectors[index].iov_len
                index += 1
            }
            if remaining > 0 {
                vectors[index].iov_base = vectors[index].iov_base! + remaining
                vectors[index].iov_len -= remaining
            }
        }
    }

    /// Makes everything written so far durable.
    func sync() throws {
        guard let faults else { return try syncNow() }
        try faults.perform(.sync, on: self) { try syncNow() }
    }

    private func syncNow() throws {
        try withDescriptor { descriptor in
            while fdatasync(descriptor) != 0 {
                if errno != EINTR { throw LogFile.error("fsync", path) }
            }
        }
    }

    /// Cuts the file to `size` bytes.
    func truncate(to size: Int) throws {
        guard let faults else { return try truncateNow(to: size) }
        try faults.perform(.truncate(size: size), on: self) { try truncateNow(to: size) }
    }

    private func truncateNow(to size: Int) throws {
        try withDescriptor { descriptor in
            guard ftruncate(descriptor, off_t(size)) == 0 else { throw LogFile.error("truncate", path) }
        }
    }

    static func error(_ operation: String, _ path: String) -> LogError {
        LogError(.io, "\(operation) \(path): \(String(cString: strerror(errno)))")
    }
}
