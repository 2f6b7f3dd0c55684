import GanglionTestKit
import XCTest
@testable import ClusterCore

/// Records a shard makes are applied after their append from what they mean, without parsing
/// (``ShardChangelog/Record/meaning``): over many seeds of handled events (states set and
/// deleted, ids evicted from small windows, timers, emitted events forwarded), the changelog
/// applying them so equals one applying the same records as read back from the log.
final class ChangelogApplyTests: XCTestCase {
    func testRecordsAppliedFromTheirMeaningEqualTheSameRecordsParsed() {
        for seed in UInt64(1)...300 {
            var random = SeededGenerator(seed: seed)
            let remembered = Int.random(in: 1...4, using: &random)
            var direct = ShardChangelog(rememberedPerKey: remembered), parsed = ShardChangelog(rememberedPerKey: remembered)
            var offset: Int64 = 0, base: Int64 = 0, meant = 0
            for round in 0..<15 {
                let keys = Array(Set((0..<Int.random(in: 1...4, using: &random)).map { _ in ["k\(Int.random(in: 0..<5, using: &random))", "", "ключ:1"][Int.random(in: 0..<3, using: &random) == 0 ? Int.random(in: 1...2, using: &random) : 0] }))
                var events: [HandledEvent] = []
                for key in keys {
                    offset += Int64.random(in: 1...3, using: &random)
                    let emitted = (0..<Int.random(in: 0...2, using: &random)).map { index in
                        OutboxEntry(id: "out-\(offset)-\(index)", topic: "t", key: Bool.random(using: &random) ? Array(key.utf8) : nil, event: [UInt8(index), 7])
                    }
                    let state: [UInt8]?? = [.none, .some(nil), .some([UInt8(round), 1])][Int.random(in: 0..<3, using: &random)]
                    let timers: [TimerChange] = Bool.random(using: &random) ? [.schedule(name: "t\(round % 2)", fireAt: offset, data: [1])] : []
                    // An id seen before now and then (a redelivery recorded again).
                    let id = Int.random(in: 0..<6, using: &random) == 0 ? "e-1" : "e-\(offset)"
                    events.append(HandledEvent(eventID: id, key: key, offset: offset, newState: state, emitted: emitted,
                                               outcome: [UInt8(offset & 0xff)], timerChanges: timers))
                }
                var batch = direct.records(for: events, committableOffset: offset + 1)
                if round % 3 == 2 { batch += direct.forwardedRecords(ids: direct.pendingOutbox.map(\.id)) }
                meant += batch.filter { $0.meaning != nil }.count
                // Applied as a shard does after the append (the batch's first offset given), and
                // as a replay reads the log (each record with its offset, nothing but its bytes).
                direct.apply(batch, from: base)
                parsed.apply(batch.enumerated().map { ShardChangelog.Record(key: $1.key, value: $1.value, offset: base + Int64($0)) })
                base += Int64(batch.count)
                XCTAssertEqual(direct, parsed, "seed \(seed) round \(round)")
                XCTAssertEqual(direct.locations, parsed.locations, "seed \(seed) round \(round)")
                XCTAssertEqual(direct.pendingOutbox, parsed.pendingOutbox, "seed \(seed) round \(round)")
                for key in keys { XCTAssertEqual(direct.reloadOffsets(of: key), parsed.reloadOffsets(of: key), "seed \(seed)") }
            }
            XCTAssertGreaterThan(meant, 0, "seed \(seed): records made here carry their meaning")
        }
    }
}
