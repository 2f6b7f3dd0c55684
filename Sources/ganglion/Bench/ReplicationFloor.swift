import CZeroMQBaseline
import Foundation
import Ganglion

/// The floor under `bench --replication`'s RF 3 / RF 1 ratio on this machine: the same batches,
/// requests in flight and fsync of every batch on every replica, done by the least code that can
/// do it — libzmq and the file system in C, three nodes and partitions laid out as the benchmark's
/// cluster, nothing parsed, checked or indexed, the leader's and followers' fsyncs overlapping
/// (`ganglion_c_replication_throughput`). Ganglion cannot replicate
/// more cheaply than this, so its ratio is read against this one, measured in the same run.
enum ReplicationFloor {
    /// Acknowledged events/s with one replica and with three, one run each, back to back, on the
    /// benchmark's layout (three nodes, `partitions` partitions with leaders spread over them):
    /// batches of `batchBytes` holding `eventsPerBatch` events, `inFlight` requests in flight,
    /// `seconds` measured after half a second of warm-up. Files go to a temporary directory,
    /// removed after.
    static func measure(batchBytes: Int, eventsPerBatch: Int, partitions: Int, inFlight: Int, seconds: Double) throws -> (rf1: Double, rf3: Double) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ganglion-replication-floor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        BenchScratch.keep(path: directory.path)
        defer {
            try? FileManager.default.removeItem(at: directory)
            BenchScratch.forget(path: directory.path)
        }
        func run(_ replicas: Int32) throws -> Double {
            let batches = ganglion_c_replication_throughput(directory.path, batchBytes, Int32(partitions), replicas, Int32(inFlight), seconds)
            guard batches > 0 else {
                throw GanglionError(code: .internal, message: "the C replication floor with \(replicas) replica(s) failed: errno \(Int(-batches))")
            }
            return batches * Double(eventsPerBatch)
        }
        return (try run(1), try run(3))
    }
}
