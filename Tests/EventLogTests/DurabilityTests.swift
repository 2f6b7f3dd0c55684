import Foundation
import XCTest
@testable import EventLog

/// The durability policies, the asynchronous append forms, and concurrent readers.
final class DurabilityTests: XCTestCase {
    private func open(_ policy: DurabilityPolicy, _ change: (inout LogConfiguration) -> Void = { _ in }) throws -> PartitionLog {
        var configuration = LogConfiguration()
        configuration.durability = policy
        configuration.segmentBytes = 64 * 1024
        change(&configuration)
        return try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration)
    }

    func testAsyncAppendsResumeOnlyWhenDurable() async throws {
        let log = try open(.everyBatch)
        try await withThrowingTaskGroup(of: AppendResult.self) { group in
            for index in 0..<50 { group.addTask { try await log.append(batch(2, from: index * 2)) } }
            for try await result in group {
                XCTAssertGreaterThan(log.durableEndOffset, result.lastOffset)
            }
        }
        XCTAssertEqual(log.logEndOffset, 100)
        XCTAssertLessThan(log.fsyncCount, 50, "appends in flight together share fsyncs")
        try log.close()
    }

    func testCompletionsReportFailuresOfAppendsCheckedUpFront() throws {
        let log = try open(.everyBatch)
        XCTAssertThrowsError(try [1, 2, 3].withUnsafeBytes { try log.append($0) { _ in XCTFail("no completion for a refused batch") } })
        let done = DispatchSemaphore(value: 0)
        try batch(3).withUnsafeBytes { try log.append($0) { result in
            XCTAssertEqual(try? result.get().lastOffset, 2)
            done.signal()
        } }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
    }

    func testIntervalPolicyMakesAppendsDurableWithinTheInterval() throws {
        let log = try open(.interval(.milliseconds(20)))
        try log.append(batch(5))
        let deadline = Date(timeIntervalSinceNow: 5)
        while log.durableEndOffset < 5 && Date() < deadline { usleep(5_000) }
        XCTAssertEqual(log.durableEndOffset, 5, "the background flush did not run")
        XCTAssertGreaterThanOrEqual(log.fsyncCount, 1)
    }

    func testOperatingSystemPolicyFsyncsOnRollAndClose() throws {
        let log = try open(.operatingSystem) { $0.segmentBytes = 2048 }
        for index in 0..<20 { try log.append(batch(1, from: index, valueSize: 200)) }
        XCTAssertGreaterThan(log.segmentBaseOffsets.count, 1)
        XCTAssertGreaterThanOrEqual(log.durableEndOffset, log.segmentBaseOffsets.last!, "a rolled segment is fsynced")
        try log.close()
        XCTAssertEqual(log.durableEndOffset, 20)
    }

    func testTheSegmentCountIsBounded() throws {
        let log = try open(.operatingSystem) {
            $0.segmentBytes = 1024
            $0.maxOpenSegments = 3
        }
        let error = assertLogError(.tooLarge) {
            for index in 0..<100 { try log.append(batch(1, from: index, valueSize: 400)) }
        }
        XCTAssertTrue(error?.message.contains("maxOpenSegments") ?? false, error?.message ?? "")
        XCTAssertEqual(log.segmentBaseOffsets.count, 3)
    }

    func testReadersRunConcurrentlyWithAppendersAndSeeOnlyWholeBatches() throws {
        let log = try open(.operatingSystem) { $0.indexIntervalBytes = 128 }
        let appended = 2000
        let writer = Thread {
            for index in 0..<appended { try? log.append(batch(1, from: index, valueSize: 64)) }
        }
        writer.start()
        let group = DispatchGroup()
        let lock = NSLock()
        nonisolated(unsafe) var problems: [String] = []
        for reader in 0..<4 {
            group.enter()
            Thread {
                defer { group.leave() }
                var offset: Int64 = 0
                while offset < Int64(appended) {
                    do {
                        let read = try log.read(from: offset, maxBytes: 4096)
                        let records = try read.bytes.withUnsafeBytes { raw -> [Record] in
                            var records: [Record] = [], position = 0
                            while position < raw.count {
                                let header = try RecordBatchHeader.validate(
                                    UnsafeRawBufferPointer(rebasing: raw[position..<(position + Int(raw.loadBigEndian(at: position + 8, as: Int32.self)) + 12)]),
                                    maxBatchBytes: 1 << 20)
                                records += try RecordDecoder.records(in: UnsafeRawBufferPointer(rebasing: raw[position..<(position + header.size)]))
                                position += header.size
                            }
                            return records
                        }
                        if let first = records.first, first.offset != offset { throw LogError(.corruption, "reader \(reader) asked \(offset) got \(first.offset)") }
                        offset = read.nextOffset
                    } catch {
                        lock.lock(); problems.append("\(error)"); lock.unlock()
                        return
                    }
                }
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertTrue(problems.isEmpty, "\(problems)")
    }
}
