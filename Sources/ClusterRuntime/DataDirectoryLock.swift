import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a node's data directory (`flock` on `<directory>/.lock`, which names
/// the holding process): a second node on the same directory — in another process or this one —
/// is refused instead of writing the same logs and metadata. Released by ``release()``, or when
/// the process ends however it ends.
final class DataDirectoryLock: @unchecked Sendable {
    // `descriptor` is guarded by `lock`.
    private let lock = NSLock()
    private var descriptor: Int32

    /// Takes the lock of `directory` (which exists), or throws naming the directory and its holder.
    init(directory: String) throws {
        let path = directory + "/.lock"
        let opened = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard opened >= 0 else {
            throw NodeError(code: .invalidConfig, message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(opened, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(opened)
            throw NodeError(code: .invalidConfig, message: "the data directory \(directory) is in use by another node"
                            + (holder.isEmpty ? "" : " (process \(holder))") + ": two nodes must not share one; give this one its own --data-dir")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(opened, 0)
        _ = pid.withUnsafeBytes { pwrite(opened, $0.baseAddress, $0.count, 0) }
        descriptor = opened
    }

    /// Lets the directory go (another node may open it).
    func release() {
        lock.withLock {
            guard descriptor >= 0 else { return }
            close(descriptor)
            descriptor = -1
        }
    }

    deinit { release() }
}
