import Foundation
import XCTest
@testable import EventLog

/// A follower's side of the log: batches appended as its leader stored them, the exact
/// continuation a stream batch needs, and the progress it may report.
final class PartitionLogFollowerTests: XCTestCase {
    /// A log of its own directory (`name` says whose it is in the story).
    private func log(_ name: String, _ durability: DurabilityPolicy = .everyBatch) throws -> PartitionLog {
        var configuration = LogConfiguration()
        configuration.durability = durability
        return try PartitionLog(directory: temporaryLogDirectory(self), configuration: configuration)
    }

    /// Appends `bytes` as a follower and waits for the completion; returns the new log end.
    @discardableResult
    private func follow(_ log: PartitionLog, _ bytes: [UInt8], expectingBase: Int64? = nil) throws -> Int64 {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<Int64, any Error> = .success(-1)
        try bytes.withUnsafeBytes { raw in
            try log.appendAsFollower(raw, expectingBase: expectingBase) { result in
                outcome = result
                done.signal()
            }
        }
        done.wait()
        return try outcome.get()
    }

    func testAStreamBatchIsRefusedWhenATruncationMovedTheLogEndSinceTheCallerLooked() throws {
        let leader = try log("leader"), follower = try log("follower")
        defer { try? leader.close(); try? follower.close() }
        for index in 0..<4 { try leader.append(batch(1, from: index), leaderEpoch: 0) }
        try follow(follower, try leader.read(from: 0, maxBytes: 1 << 20, upTo: 3).bytes)
        let seen = follower.logEndOffset
        XCTAssertEqual(seen, 3)
        // The stream path saw the log end at 3; a truncation (the fetch path's) runs before it appends.
        try follower.truncate(to: 1)
        let next = try leader.read(from: 3, maxBytes: 1 << 20).bytes
        assertLogError(.offsetOutOfRange) { try self.follow(follower, next, expectingBase: seen) }
        XCTAssertEqual(follower.logEndOffset, 1, "nothing appended: no hole at offsets 1…2")
        // A batch that does continue the log where the caller expects is appended.
        XCTAssertEqual(try follow(follower, try leader.read(from: 1, maxBytes: 1 << 20, upTo: 2).bytes, expectingBase: 1), 2)
        XCTAssertEqual(try follower.records(from: 0).map { String(decoding: $0.key!, as: UTF8.self) }, ["k0", "k1"])
    }

    func testTheProgressAFollowerReportsNeverExceedsWhatItsLogHoldsAfterATruncation() throws {
        // The old leader's epoch 0 reached offset 5 here; the new leader (epoch 1) has only 0…1 of it.
        let old = try log("old"), new = try log("new"), follower = try log("follower")
        defer { try? old.close(); try? new.close(); try? follower.close() }
        for index in 0..<5 { try old.append(batch(1, from: index), leaderEpoch: 0) }
        for index in 0..<2 { try new.append(batch(1, from: index), leaderEpoch: 0) }
        for index in 2..<4 { try new.append(batch(1, from: 10 + index), leaderEpoch: 1) }
        try follow(follower, try old.read(from: 0, maxBytes: 1 << 20).bytes)
        XCTAssertTrue(follower.followerProgress(upTo: 5) == (5, 0))
        try follower.truncate(to: 2)
        try follow(follower, try new.read(from: 2, maxBytes: 1 << 20).bytes)
        // A report bounded by an end reached before the truncation (5) claims only what is held
        // now (4), with the epoch of the batch below it.
        XCTAssertTrue(follower.followerProgress(upTo: 5) == (4, 1))
        XCTAssertTrue(follower.followerProgress(upTo: 3) == (3, 1))
        XCTAssertTrue(follower.followerProgress(upTo: 2) == (2, 0))
        XCTAssertTrue(follower.followerProgress(upTo: 0) == (0, nil))
    }

    func testUnderIntervalDurabilityTheProgressIsTheAppendedEnd() throws {
        let leader = try log("leader"), follower = try log("follower", .interval(.seconds(60)))
        defer { try? leader.close(); try? follower.close() }
        for index in 0..<3 { try leader.append(batch(1, from: index), leaderEpoch: 2) }
        try follow(follower, try leader.read(from: 0, maxBytes: 1 << 20).bytes)
        XCTAssertTrue(follower.followerProgress(upTo: .max) == (3, 2), "as an append's completion counts it, before any fsync")
    }
}
