import EventLog
import Foundation

/// Append and read throughput of the partition log, against the raw disk in the same run.
struct LogBenchmark {
    /// Where the benchmark writes (removed afterwards).
    let directory: String
    /// How long each append measurement runs.
    let seconds: Double

    func run() throws {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        print("== Event log: 256 B records, \(directory), CRC32C \(CRC32C.isHardwareAccelerated ? "hardware" : "software") ==")
        let raw = try rawDisk()
        print("  raw disk: sequential write \(Figures.fixed(raw.bandwidth / 1e6, 0)) MB/s (1 MiB writes + fsync);"
              + " fsync of 4 KiB p50 \(Figures.fixed(raw.fsyncP50)) µs p99 \(Figures.fixed(raw.fsyncP99)) µs")

        print("  append (one appender)")
        print("    " + Figures.padded("policy", 14) + Figures.padded("batch 1", 24) + Figures.padded("batch 16", 24) + "batch 256")
        var readSource: String?
        for (name, policy) in [("every batch", DurabilityPolicy.everyBatch), ("interval 100ms", .interval(.milliseconds(100))),
                               ("os", .operatingSystem)] {
            var cells: [String] = []
            for batchSize in [1, 16, 256] {
                let path = "\(directory)/\(name.replacingOccurrences(of: " ", with: "-"))-\(batchSize)"
                let (rate, bytesPerSecond, _) = try appendRun(path: path, policy: policy, batchSize: batchSize, appenders: 1)
                var cell = "\(Figures.rate(rate, unit: "rec/s"))"
                if batchSize == 256 { cell += " \(Figures.fixed(100 * bytesPerSecond / raw.bandwidth, 0))% of disk" }
                cells.append(cell)
                if batchSize == 256, name.hasPrefix("interval") { readSource = path } else { try? FileManager.default.removeItem(atPath: path) }
            }
            print("    " + Figures.padded(name, 14) + Figures.padded(cells[0], 24) + Figures.padded(cells[1], 24) + cells[2])
        }

        print("  group commit: fsync every batch, 64 appends in flight from one thread (completion API, as a node appends)")
        for batchSize in [1, 16] {
            let path = "\(directory)/inflight-\(batchSize)"
            let (rate, perSync) = try inFlightRun(path: path, batchSize: batchSize, inFlight: 64)
            print("    batch \(batchSize): \(Figures.rate(rate, unit: "rec/s")) (\(Figures.fixed(perSync)) records per fsync)")
            try? FileManager.default.removeItem(atPath: path)
        }
        print("  group commit: fsync every batch, 64 appender threads (blocking API)")
        for batchSize in [1, 16] {
            let path = "\(directory)/group-\(batchSize)"
            let (rate, _, perSync) = try appendRun(path: path, policy: .everyBatch, batchSize: batchSize, appenders: 64)
            print("    batch \(batchSize): \(Figures.rate(rate, unit: "rec/s")) (\(Figures.fixed(perSync)) records per fsync)")
            try? FileManager.default.removeItem(atPath: path)
        }

        if let readSource {
            let (records, bytes) = try readRun(path: readSource)
            print("  read (1 MiB reads, whole log, page cache): \(Figures.rate(records, unit: "rec/s")), \(Figures.fixed(bytes / 1e6, 0)) MB/s")
        }
        print("")
    }

    /// Appends pre-built batches for `seconds` from `appenders` threads; records/s and bytes/s.
    private func appendRun(path: String, policy: DurabilityPolicy, batchSize: Int, appenders: Int) throws -> (Double, Double, Double) {
        var configuration = LogConfiguration()
        configuration.durability = policy
        configuration.segmentBytes = 256 << 20
        let log = try PartitionLog(directory: path, configuration: configuration)
        let batch = Self.batch(batchSize)
        let deadline = Date(timeIntervalSinceNow: seconds)
        let group = DispatchGroup()
        let failure = NSLock()
        nonisolated(unsafe) var firstError: (any Error)?
        let start = Date()
        for _ in 0..<appenders {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    while Date() < deadline {
                        for _ in 0..<16 { try log.append(batch) }
                    }
                } catch {
                    failure.lock(); firstError = firstError ?? error; failure.unlock()
                }
            }.start()
        }
        group.wait()
        try log.flush()
        let elapsed = Date().timeIntervalSince(start)
        if let firstError { throw firstError }
        let records = Double(log.logEndOffset)
        let bytes = Double(log.sizeInBytes)
        let perSync = records / Double(max(1, log.fsyncCount))
        try log.close()
        return (records / elapsed, bytes / elapsed, perSync)
    }

    /// Keeps `inFlight` appends outstanding from one thread; records/s and records per fsync.
    private func inFlightRun(path: String, batchSize: Int, inFlight: Int) throws -> (Double, Double) {
        var configuration = LogConfiguration()
        configuration.durability = .everyBatch
        configuration.segmentBytes = 256 << 20
        let log = try PartitionLog(directory: path, configuration: configuration)
        let batch = Self.batch(batchSize)
        let permits = DispatchSemaphore(value: inFlight)
        let deadline = Date(timeIntervalSinceNow: seconds)
        let start = Date()
        try batch.withUnsafeBytes { bytes in
            while Date() < deadline {
                for _ in 0..<64 {
                    permits.wait()
                    try log.append(bytes) { _ in permits.signal() }
                }
            }
        }
        for _ in 0..<inFlight { permits.wait() }
        let elapsed = Date().timeIntervalSince(start)
        for _ in 0..<inFlight { permits.signal() }  // libdispatch traps if disposed below its start value
        let records = Double(log.logEndOffset)
        let perSync = records / Double(max(1, log.fsyncCount))
        try log.close()
        return (records / elapsed, perSync)
    }

    /// A batch of `count` 256-byte records.
    private static func batch(_ count: Int) -> [UInt8] {
        var builder = RecordBatchBuilder()
        for index in 0..<count {
            builder.append(key: Array("key-\(index % 64)".utf8), value: [UInt8](repeating: 0x42, count: 256), timestamp: 1_790_000_000_000)
        }
        return builder.build()
    }

    /// Reads the whole log in 1 MiB reads; records/s and bytes/s.
    private func readRun(path: String) throws -> (Double, Double) {
        var configuration = LogConfiguration()
        configuration.segmentBytes = 256 << 20
        let log = try PartitionLog(directory: path, configuration: configuration)
        let start = Date()
        var offset: Int64 = 0, bytes = 0
        while offset < log.logEndOffset {
            let read = try log.read(from: offset, maxBytes: 1 << 20)
            bytes += read.bytes.count
            offset = read.nextOffset
        }
        let elapsed = Date().timeIntervalSince(start)
        try log.close()
        return (Double(offset) / elapsed, Double(bytes) / elapsed)
    }

    /// Sequential write bandwidth (with a final fsync) and 4 KiB write+fsync latency.
    private func rawDisk() throws -> (bandwidth: Double, fsyncP50: Double, fsyncP99: Double) {
        let path = "\(directory)/raw"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TransportBenchmark.Failure(description: "cannot open \(path)") }
        defer { close(fd); unlink(path) }
        let chunk = [UInt8](repeating: 0x42, count: 1 << 20)
        let total = 512
        let start = Date()
        for index in 0..<total {
            _ = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(index << 20)) }
        }
        fdatasync(fd)
        let bandwidth = Double(total << 20) / Date().timeIntervalSince(start)
        var latencies: [UInt64] = []
        let block = [UInt8](repeating: 1, count: 4096)
        for index in 0..<1000 {
            let begin = DispatchTime.now().uptimeNanoseconds
            _ = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(index * 4096)) }
            fdatasync(fd)
            latencies.append(DispatchTime.now().uptimeNanoseconds - begin)
        }
        return (bandwidth, Figures.percentileMicros(latencies, 50), Figures.percentileMicros(latencies, 99))
    }
}
