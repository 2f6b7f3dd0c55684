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

    /// The record keys written byte by byte keep the layout of the changelogs already stored.
    func testRecordKeysKeepTheirLayout() {
        for key in ["", "k", "123456789", "1234567890", String(repeating: "x", count: 99), String(repeating: "y", count: 100),
                    String(repeating: "z", count: 1_234), "ключ", "a\u{0}b", "🦀:7"] {
            for name in ["", "remind", "e-1/0", "名前"] {
                XCTAssertEqual(ShardChangelog.timerKey(key, name), Array("t\u{0}\(key.utf8.count):\(key)\(name)".utf8))
                XCTAssertEqual(ShardChangelog.handledKey(key, name), Array("i\u{0}\(key.utf8.count):\(key)\(name)".utf8))
                XCTAssertEqual(ShardChangelog.timerParts(ShardChangelog.timerKey(key, name).dropFirst(2))?.key, key)
            }
            XCTAssertEqual(ShardChangelog.taggedKey("s", key), Array("s\u{0}\(key)".utf8))
            XCTAssertEqual(ShardChangelog.taggedKey("e", key), Array("e\u{0}\(key)".utf8))
        }
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
