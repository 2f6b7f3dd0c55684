import Foundation
import XCTest
@testable import EventLog

/// A compaction pass never holds the log's lock for the whole pass: appends and reads go on while
/// it reads and rewrites segments (only each segment's swap takes the lock, briefly), and what
/// was appended meanwhile is kept.
final class CompactionConcurrencyTests: XCTestCase {
    func testAppendsGoOnWhileACompactionPassRuns() throws {
        let faults = LogFaults()
        var configuration = LogConfiguration()
        configuration.compacted = true
        configuration.durability = .operatingSystem  // no background fsync: the next fsync is compaction's
        configuration.segmentBytes = 4096
        configuration.faults = faults
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration)
        defer { try? log.close() }
        for round in 0..<6 {
            var builder = RecordBatchBuilder()
            for key in 0..<8 { builder.append(key: Array("k\(key)".utf8), value: Array("v\(round)-\(key)".utf8), timestamp: 1_000) }
            try log.append(builder.build())
            try log.rollSegment()
        }
        faults.delayNextSyncs(1, by: .milliseconds(1_500))  // the first rewritten segment's fsync stalls
        let order = OrderLog()
        let compaction = Thread {
            _ = try? log.compact()
            order.note("compaction")
        }
        compaction.start()
        usleep(300_000)
        var builder = RecordBatchBuilder()
        builder.append(key: Array("k0".utf8), value: Array("during".utf8), timestamp: 2_000)
        try log.append(builder.build())
        order.note("append")
        while !order.entries.contains("compaction") { usleep(20_000) }
        XCTAssertEqual(order.entries, ["append", "compaction"], "the append waited for the whole compaction pass")
        let records = try log.records(from: 0)
        XCTAssertEqual(records.last.map { String(decoding: $0.value!, as: UTF8.self) }, "during")
        XCTAssertEqual(Set(records.compactMap(\.key)).count, 8, "every key keeps its newest record")
    }
}

/// The order in which things finished, from several threads.
private final class OrderLog: @unchecked Sendable {
    // `items` is guarded by `lock`.
    private let lock = NSLock()
    private var items: [String] = []
    func note(_ item: String) { lock.withLock { items.append(item) } }
    var entries: [String] { lock.withLock { items } }
}
