import Foundation
import GanglionTestKit
import XCTest
@testable import ClusterCore

/// Changelog records come back from a log that anyone with produce rights could have written to:
/// replaying hostile bytes skips them instead of trapping, and a mutation fuzzer seeded from
/// valid records finds no input that crashes the replay. `GANGLION_FUZZ_ITERATIONS=n` runs longer.
final class ChangelogDecodingTests: XCTestCase {
    private static let iterations = Int(ProcessInfo.processInfo.environment["GANGLION_FUZZ_ITERATIONS"] ?? "") ?? 20_000

    func testALengthNearInt64MaxIsRefusedNotTrapped() {
        var writer = ByteWriter()
        writer.integer(Int64.max - 2)
        var reader = ByteReader(writer.output + [1, 2, 3])
        XCTAssertNil(reader.bytes())
        var negative = ByteWriter()
        negative.integer(-5)
        var second = ByteReader(negative.output)
        XCTAssertNil(second.bytes())
    }

    func testATimerKeyWithAHugeKeyLengthIsSkipped() {
        var changelog = ShardChangelog()
        changelog.apply([ShardChangelog.Record(key: Array("t\u{0}9223372036854775807:key".utf8), value: [0, 0, 0, 0, 0, 0, 0, 1])])
        XCTAssertTrue(changelog.timers.isEmpty)
        XCTAssertNil(ShardChangelog.timerParts(Array("9223372036854775000:k".utf8)[...]))
    }

    func testMutatedChangelogRecordsNeverCrashTheReplay() {
        let seed = FuzzSeed.current(ci: 20_261_205)
        var random = SeededGenerator(seed: seed)
        var valid = ShardChangelog()
        let handled = HandledEvent(eventID: "e-1", key: "k", offset: 0, newState: .some(Array("state".utf8)),
                                   emitted: [OutboxEntry(id: "o-1", topic: "out", key: Array("k".utf8), event: [1, 2, 3])], outcome: [9])
        var corpus = valid.records(for: handled)
        corpus += valid.records(skipping: 4)
        corpus.append(ShardChangelog.Record(key: ShardChangelog.timerKey("k", "remind"), value: {
            var writer = ByteWriter()
            writer.integer(1_000)
            writer.bytes([7, 7])
            return writer.output
        }()))
        valid.apply(corpus)
        for _ in 0..<Self.iterations {
            var record = corpus[Int(random.next() % UInt64(corpus.count))]
            if random.next() % 4 == 0 {
                record.key = FuzzMutation.mutate(record.key, &random)
            } else {
                record.value = record.value.map { FuzzMutation.mutate($0, &random) }
            }
            var replay = ShardChangelog()
            replay.apply([record])  // must not trap; what it keeps is whatever parsed
        }
    }
}
