#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A write or truncation not yet fsynced, with what undoes it: the file's size before it and
/// the bytes it overwrote or cut (``LogFaults``' crash model).
struct UnsyncedChange {
    /// The file's size before the change.
    var previousSize: Int
    /// Where the overwritten or cut bytes were.
    var restoreAt: Int
    /// The bytes the change overwrote (a write) or cut (a truncation).
    var restore: [UInt8]
    /// The bytes written (`nil` for a truncation).
    var write: [UInt8]?

    /// Undoes `changes`, newest first, on the file at `path` (gone files are left alone).
    static func undo(_ changes: ArraySlice<UnsyncedChange>, in path: String) {
        for change in changes.reversed() {
            let descriptor = open(path, O_RDWR | O_CLOEXEC)
            guard descriptor >= 0 else { return }
            _ = ftruncate(descriptor, off_t(change.previousSize))
            change.restore.withUnsafeBytes { _ = pwrite(descriptor, $0.baseAddress, $0.count, off_t(change.restoreAt)) }
            close(descriptor)
        }
    }

    /// Writes `bytes` at `offset` of the file at `path` (the surviving part of a torn write).
    static func write(_ bytes: [UInt8], at offset: Int, in path: String) {
        guard !bytes.isEmpty else { return }
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        bytes.withUnsafeBytes { _ = pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
        close(descriptor)
    }
}
