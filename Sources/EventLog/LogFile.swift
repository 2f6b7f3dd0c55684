#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file of the log, closed when the last reference goes (so a reader holding it can
/// finish even after retention deleted the file).
final class LogFile: @unchecked Sendable {
    // Positional I/O (pread/pwrite/fsync) is safe from several threads on one descriptor;
    // `size` is only changed by the log while it holds its lock.
    let descriptor: Int32
    let path: String

    /// Opens (creating when `create`) the file at `path` for reading and writing.
    init(path: String, create: Bool) throws {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw LogFile.error("open", path) }
        self.descriptor = fd
        self.path = path
    }

    deinit { close(descriptor) }

    /// The file's current size.
    func size() throws -> Int {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw LogFile.error("stat", path) }
        return Int(info.st_size)
    }

    /// Reads up to `count` bytes at `offset`.
    func read(at offset: Int, count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
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
        while fdatasync(descriptor) != 0 {
            if errno != EINTR { throw LogFile.error("fsync", path) }
        }
    }

    /// Cuts the file to `size` bytes.
    func truncate(to size: Int) throws {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw LogFile.error("truncate", path) }
    }

    static func error(_ operation: String, _ path: String) -> LogError {
        LogError(.io, "\(operation) \(path): \(String(cString: strerror(errno)))")
    }
}

private func systemRename(_ from: String, _ to: String) -> Int32 {
    #if canImport(Glibc)
    Glibc.rename(from, to)
    #else
    Darwin.rename(from, to)
    #endif
}

/// File-system helpers for the log's directory.
enum LogDirectory {
    static func create(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw LogFile.error("mkdir", path) }
    }

    static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw LogFile.error("opendir", path) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func remove(_ path: String) {
        unlink(path)
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Replaces `path` atomically with `contents`, durably (temp file, fsync, rename, fsync dir).
    static func writeAtomically(_ contents: [UInt8], to path: String, directory: String) throws {
        let temporary = path + ".tmp"
        let file = try LogFile(path: temporary, create: true)
        try file.truncate(to: 0)
        try contents.withUnsafeBytes { try file.write([$0], at: 0) }
        try file.sync()
        try rename(temporary, path)
        try syncDirectory(directory)
    }

    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LogFile.error("open", path) }
        defer { close(fd) }
        _ = fsync(fd)
    }

    static func rename(_ from: String, _ to: String) throws {
        guard systemRename(from, to) == 0 else { throw LogFile.error("rename", from) }
    }
}
