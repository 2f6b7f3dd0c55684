import ClusterCore
import Foundation
import SchemaRegistry

/// The metadata state as of an offset of the metadata log: what a restart loads instead of
/// replaying the log below `offset`.
struct MetadataSnapshot: Codable, Sendable {
    /// Every record below this offset is in the snapshot.
    var offset: Int64
    /// The cluster metadata.
    var metadata: MetadataState
    /// The schema registry's state.
    var registry: RegistryState
    /// With a controller quorum: the Raft term of the entry just below `offset` (Raft index `offset`).
    var term: Int64?
}

/// The metadata log's snapshot file (`snapshot.json` beside its segments), replaced atomically
/// and durably: a crash leaves the old snapshot or the new one, never a part.
struct MetadataSnapshotFile: Sendable {
    let directory: String
    var path: String { directory + "/snapshot.json" }

    /// The snapshot, if one was written.
    func load() throws -> MetadataSnapshot? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(MetadataSnapshot.self, from: data)
        } catch {
            throw MetadataSnapshotError(message: "the metadata snapshot \(path) does not decode (\(error)); move it aside to replay the log from its start")
        }
    }

    /// Replaces the snapshot: a temporary file, fsynced, renamed over the old one, and the
    /// directory fsynced.
    func save(_ snapshot: MetadataSnapshot) throws {
        try DurableFile.replace(path, in: directory, with: try JSONEncoder().encode(snapshot))
    }
}

/// Small files replaced atomically and durably (snapshots, Raft's hard state).
enum DurableFile {
    /// Writes `data` to a temporary file, fsyncs it, renames it over `path` and fsyncs `directory`
    /// (when `sync` is false the rename is atomic but not yet durable).
    static func replace(_ path: String, in directory: String, with data: Data, sync: Bool = true) throws {
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw MetadataSnapshotError(message: "could not write \(temporary)")
        }
        if sync {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            try handle.synchronize()
            try handle.close()
        }
        guard rename(temporary, path) == 0 else { throw MetadataSnapshotError(message: "could not rename \(temporary) to \(path): errno \(errno)") }
        guard sync else { return }
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { throw MetadataSnapshotError(message: "could not open \(directory): errno \(errno)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw MetadataSnapshotError(message: "fsync of \(directory) failed: errno \(errno)") }
    }
}

/// A metadata snapshot that could not be read or written.
struct MetadataSnapshotError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
