import Foundation
import XCTest
@testable import EventLog

/// Appending, reading, rolling, indexes, limits and persistence.
final class PartitionLogTests: XCTestCase {
    private func configuration(_ change: (inout LogConfiguration) -> Void = { _ in }) -> LogConfiguration {
        var configuration = LogConfiguration()
        configuration.durability = .operatingSystem
        configuration.segmentBytes = 4096
        configuration.indexIntervalBytes = 256
        change(&configuration)
        return configuration
    }

    func testOffsetsAreDenseFromZeroAndReadsReturnTheStoredBytes() throws {
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration())
        let first = batch(3), second = batch(2, from: 3)
        XCTAssertEqual(try log.append(first), AppendResult(firstOffset: 0, lastOffset: 2, size: first.count))
        XCTAssertEqual(try log.append(second).firstOffset, 3)
        XCTAssertEqual(log.logEndOffset, 5)
        let read = try log.read(from: 0, maxBytes: 1 << 20)
        XCTAssertEqual(read.firstOffset, 0)
        XCTAssertEqual(read.nextOffset, 5)
        // Stored bytes are the producer's bytes with the base offset (and epoch) assigned.
        XCTAssertEqual(read.bytes, stored(first, base: 0) + stored(second, base: 3))
        // A read from the middle of a batch starts at that batch.
        XCTAssertEqual(try log.read(from: 4, maxBytes: 1 << 20).firstOffset, 3)
        XCTAssertEqual(try log.records(from: 0).map { String(decoding: $0.key!, as: UTF8.self) }, ["k0", "k1", "k2", "k3", "k4"])
        XCTAssertTrue(try log.read(from: 5, maxBytes: 100).bytes.isEmpty)
    }

    func testReadsStopAtTheByteLimitAndTheBoundButAlwaysProgress() throws {
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration { $0.segmentBytes = 1 << 20 })
        for index in 0..<10 { try log.append(batch(1, from: index, valueSize: 100)) }
        let one = try log.read(from: 0, maxBytes: 1)
        XCTAssertEqual(one.nextOffset, 1, "a batch larger than the limit is still returned whole")
        let some = try log.read(from: 0, maxBytes: one.bytes.count * 3 + 10)
        XCTAssertEqual(some.nextOffset, 3)
        let bounded = try log.read(from: 0, maxBytes: 1 << 20, upTo: 4)
        XCTAssertEqual(bounded.nextOffset, 4, "nothing at or above the bound (e.g. the high watermark)")
    }

    func testSegmentsRollBySizeAndAgeAndReadsCrossThem() throws {
        let clock = ManualClock()
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration {
            $0.segmentMilliseconds = 60_000
        }, clock: clock.function)
        for index in 0..<40 { try log.append(batch(1, from: index, valueSize: 200)) }
        let bySize = log.segmentBaseOffsets
        XCTAssertGreaterThan(bySize.count, 2)
        clock.now += 60_000
        try log.append(batch(1, from: 40))
        XCTAssertEqual(log.segmentBaseOffsets.last, 40, "an old active segment rolls on the next append")
        XCTAssertEqual(try log.records(from: 0).map(\.offset), Array(0...40))
        for base in bySize.dropFirst() {
            XCTAssertEqual(try log.read(from: base, maxBytes: 10).firstOffset, base)
        }
    }

    func testIndexesAreRebuiltWhenMissingOrDamaged() throws {
        let directory = temporaryLogDirectory(self)
        var log: PartitionLog? = try PartitionLog(directory: directory, configuration: configuration())
        for index in 0..<60 { try log!.append(batch(1, from: index, valueSize: 150)) }
        let bases = log!.segmentBaseOffsets
        try log!.close()
        log = nil
        let first = directory + "/" + Segment.fileName(bases[0], ".index")
        let second = directory + "/" + Segment.fileName(bases[1], ".index")
        try FileManager.default.removeItem(atPath: first)
        try Data([1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0]).write(to: URL(fileURLWithPath: second))
        let reopened = try PartitionLog(directory: directory, configuration: configuration())
        XCTAssertEqual(Set(reopened.recovery.rebuiltIndexes.map { ($0 as NSString).lastPathComponent }),
                       [Segment.fileName(bases[0], ".log"), Segment.fileName(bases[1], ".log")])
        XCTAssertEqual(try reopened.records(from: 0).map(\.offset), Array(0..<60))
        for offset in stride(from: Int64(0), to: 60, by: 7) {
            XCTAssertEqual(try reopened.read(from: offset, maxBytes: 1).firstOffset, offset)
        }
        XCTAssertGreaterThan(try FileManager.default.attributesOfItem(atPath: first)[.size] as! Int, 0)
    }

    func testTimestampLookupFindsTheFirstRecordAtOrAfter() throws {
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration())
        for index in 0..<50 { try log.append(batch(1, from: index, timestamp: 10_000, valueSize: 100)) }
        XCTAssertEqual(try log.offset(forTimestamp: 0), 0)
        XCTAssertEqual(try log.offset(forTimestamp: 10_025), 25)
        XCTAssertNil(try log.offset(forTimestamp: 99_999))
    }

    func testHighWatermarkAndLogStartSurviveARestart() throws {
        let directory = temporaryLogDirectory(self)
        var configuration = configuration()
        configuration.retentionBytes = 0
        configuration.retentionMilliseconds = nil
        let log = try PartitionLog(directory: directory, configuration: configuration)
        for index in 0..<40 { try log.append(batch(1, from: index, valueSize: 200)) }
        log.setHighWatermark(30)
        let retention = try log.applyRetention()
        XCTAssertFalse(retention.deletedSegments.isEmpty)
        let start = log.logStartOffset
        XCTAssertGreaterThan(start, 0)
        XCTAssertLessThanOrEqual(log.segmentBaseOffsets.first!, start)
        try log.close()
        assertLogError(.closed) { try log.append(batch(1)) }
        assertLogError(.closed) { try log.read(from: 0, maxBytes: 10) }

        let reopened = try PartitionLog(directory: directory, configuration: configuration)
        XCTAssertEqual(reopened.highWatermark, 30)
        XCTAssertEqual(reopened.logStartOffset, start)
        XCTAssertEqual(reopened.logEndOffset, 40)
        let below = assertLogError(.offsetOutOfRange) { try reopened.read(from: start - 1, maxBytes: 10) }
        XCTAssertTrue(below?.message.contains("\(start - 1)") ?? false)
    }

    func testBadInputIsRefusedClearlyAndTheLogKeepsWorking() throws {
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration {
            $0.maxRecordBytes = 100
            $0.maxBatchBytes = 2048
        })
        let big = assertLogError(.recordTooLarge) { try log.append(batch(1, valueSize: 500)) }
        XCTAssertTrue(big?.message.contains("limit is 100") ?? false, big?.message ?? "")
        assertLogError(.tooLarge) { try log.append(batch(40, valueSize: 50)) }
        var damaged = batch(2)
        damaged[damaged.count - 1] ^= 0xFF
        assertLogError(.malformedBatch) { try log.append(damaged) }
        assertLogError(.malformedBatch) { try log.append([1, 2, 3]) }
        XCTAssertEqual(log.logEndOffset, 0)
        XCTAssertEqual(try log.append(batch(2)).lastOffset, 1)
        assertLogError(.offsetOutOfRange) { try log.read(from: 3, maxBytes: 10) }
        assertLogError(.invalidConfiguration) { try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration { $0.segmentBytes = 10 }) }
    }

    func testCompactedLogsRequireKeys() throws {
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration { $0.compacted = true })
        var builder = RecordBatchBuilder()
        builder.append(key: nil, value: [1], timestamp: 1)
        assertLogError(.missingKey) { try log.append(builder.build()) }
    }

    func testLeaderEpochsAreCachedPersistedAndFenceOldLeaders() throws {
        let directory = temporaryLogDirectory(self)
        let log = try PartitionLog(directory: directory, configuration: configuration())
        try log.append(batch(3), leaderEpoch: 1)
        try log.append(batch(2), leaderEpoch: 1)
        try log.append(batch(4), leaderEpoch: 3)
        assertLogError(.staleLeaderEpoch) { try log.append(batch(1), leaderEpoch: 2) }
        XCTAssertEqual(log.endOffset(forLeaderEpoch: 1)?.endOffset, 5)
        XCTAssertEqual(log.endOffset(forLeaderEpoch: 2)?.epoch, 1, "epoch 2 never led here: answer with epoch 1")
        XCTAssertEqual(log.endOffset(forLeaderEpoch: 3)?.endOffset, 9)
        // A follower told that epoch 3 began elsewhere truncates to the end of epoch 1.
        XCTAssertEqual(try log.truncate(to: 5), 5)
        XCTAssertEqual(log.latestLeaderEpoch, 1)
        try log.append(batch(1), leaderEpoch: 4)
        try log.close()
        let reopened = try PartitionLog(directory: directory, configuration: configuration())
        XCTAssertEqual(reopened.latestLeaderEpoch, 4)
        XCTAssertEqual(reopened.endOffset(forLeaderEpoch: 1)?.endOffset, 5)
        XCTAssertEqual(try reopened.records(from: 0).count, 6)
    }

    func testTruncationRemovesTheBatchHoldingTheOffsetAndEverythingAfter() throws {
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration())
        for index in 0..<30 { try log.append(batch(3, from: index * 3, valueSize: 100)) }
        log.setHighWatermark(90)
        XCTAssertEqual(try log.truncate(to: 47), 45, "offset 47 is inside the batch 45…47")
        XCTAssertEqual(log.logEndOffset, 45)
        XCTAssertEqual(log.highWatermark, 45)
        XCTAssertEqual(try log.records(from: 0).map(\.offset), Array(0..<45))
        XCTAssertEqual(try log.append(batch(1)).firstOffset, 45)
    }

    func testRetentionByTimeDeletesOnlyOldClosedSegmentsBelowTheHighWatermark() throws {
        let clock = ManualClock(100_000)
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration {
            $0.retentionMilliseconds = 50_000
        }, clock: clock.function)
        for index in 0..<20 { try log.append(batch(1, from: index, timestamp: 10_000, valueSize: 300)) }
        for index in 20..<40 { try log.append(batch(1, from: index, timestamp: 90_000, valueSize: 300)) }
        XCTAssertTrue(try log.applyRetention().deletedSegments.isEmpty, "nothing is committed yet")
        log.setHighWatermark(log.logEndOffset)
        let result = try log.applyRetention()
        XCTAssertFalse(result.deletedSegments.isEmpty)
        let records = try log.records(from: log.logStartOffset)
        XCTAssertTrue(records.allSatisfy { $0.offset >= 20 || $0.timestamp >= 10_000 }, "only whole old segments go")
        XCTAssertTrue(records.contains { $0.offset == 20 }, "no segment with new records is deleted")
        XCTAssertEqual(log.logStartOffset, log.segmentBaseOffsets.first)
    }

    func testCompactionKeepsTheNewestValuePerKeyAndOffsets() throws {
        let clock = ManualClock(1_000_000)
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration {
            $0.compacted = true
            $0.tombstoneRetentionMilliseconds = 100_000
        }, clock: clock.function)
        func put(_ key: String, _ value: String?, at time: Int64) throws {
            var builder = RecordBatchBuilder()
            builder.append(key: Array(key.utf8), value: value.map { Array($0.utf8) + [UInt8](repeating: 0, count: 200) }, timestamp: time)
            try log.append(builder.build())
        }
        for round in 0..<10 {
            for key in ["a", "b", "c"] { try put(key, "\(key)\(round)", at: 1000) }
        }
        try put("c", nil, at: 1000)       // an old tombstone: dropped by compaction
        try put("b", nil, at: 950_000)    // a recent tombstone: kept
        try put("d", "d0", at: 1000)
        try log.rollSegment()
        try put("a", "a-final", at: 1000)  // in the active segment: never compacted
        let before = try log.records(from: 0)
        let result = try log.compact()
        XCTAssertGreaterThan(result.removedRecords, 0)
        XCTAssertLessThan(result.bytesAfter, result.bytesBefore)
        let after = try log.records(from: 0)
        let survivors = after.map { String(decoding: $0.key!, as: UTF8.self) + "=" + ($0.value.map { String(decoding: $0.prefix(7), as: UTF8.self).trimmingCharacters(in: .controlCharacters) } ?? "∅") }
        XCTAssertEqual(survivors, ["b=∅", "d=d0", "a=a-final"])
        for record in after {
            XCTAssertEqual(before.first { $0.offset == record.offset }, record, "offsets and contents are kept")
        }
        XCTAssertEqual(log.logEndOffset, before.last!.offset + 1)
    }

    func testGroupCommitAcknowledgesConcurrentAppendersAfterOneSharedFsync() throws {
        let log = try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration {
            $0.durability = .everyBatch
            $0.segmentBytes = 1 << 24
        })
        let appenders = 32, batchesEach = 20
        let group = DispatchGroup()
        let failures = NSLock()
        nonisolated(unsafe) var errors: [any Error] = []
        for appender in 0..<appenders {
            group.enter()
            Thread {
                defer { group.leave() }
                for index in 0..<batchesEach {
                    do {
                        let result = try log.append(batch(2, from: appender * 1000 + index * 2))
                        // Acknowledged means durable.
                        if log.durableEndOffset <= result.lastOffset { throw LogError(.io, "acked before durable") }
                    } catch {
                        failures.lock(); errors.append(error); failures.unlock()
                    }
                }
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        XCTAssertEqual(log.logEndOffset, Int64(appenders * batchesEach * 2))
        XCTAssertEqual(try log.records(from: 0).map(\.offset), Array(0..<Int64(appenders * batchesEach * 2)))
    }
}

/// A producer's batch as the log stores it at `base`: only the base offset differs.
private func stored(_ batch: [UInt8], base: Int64) -> [UInt8] {
    var bytes = batch
    bytes.replaceSubrange(0..<8, with: Swift.withUnsafeBytes(of: base.bigEndian) { Array($0) })
    return bytes
}
