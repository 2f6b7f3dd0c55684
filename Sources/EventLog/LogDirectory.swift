#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private func systemRename(_ from: String, _ to: String) -> Int32 {
    #if canImport(Glibc)
    Glibc.rename(from, to)
    #else
    Darwin.rename(from, to)
    #endif
}

/// File-system helpers for the log's directory.
enum LogDirectory {
    /// Makes directory `path` if it is missing, durably: a new directory's entry is fsynced in
    /// its parent, so the partition survives a crash with its first segment.
    static func create(_ path: String, faults: LogFaults? = nil) throws {
        if mkdir(path, 0o755) == 0 {
            let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            try syncDirectory(parent.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : parent, faults: faults)
        } else if errno != EEXIST {
            throw LogFile.error("mkdir", path)
        }
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
    static func writeAtomically(_ contents: [UInt8], to path: String, directory: String, faults: LogFaults? = nil) throws {
        let temporary = path + ".tmp"
        let file = try LogFile(path: temporary, create: true)
        try file.truncate(to: 0)
        try contents.withUnsafeBytes { try file.write([$0], at: 0) }
        try file.sync()
        try rename(temporary, path)
        try syncDirectory(directory, faults: faults)
    }

    /// fsyncs directory `path`, so the entries made or renamed in it survive a crash.
    static func syncDirectory(_ path: String, faults: LogFaults? = nil) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LogFile.error("open", path) }
        defer { close(fd) }
        var result = fsync(fd)
        if let faults, !faults.takeDirectorySync(path) {
            result = -1
            errno = EIO
        }
        guard result == 0 else { throw LogFile.error("fsync of directory", path) }
    }

    static func rename(_ from: String, _ to: String) throws {
        guard systemRename(from, to) == 0 else { throw LogFile.error("rename", from) }
    }
}
