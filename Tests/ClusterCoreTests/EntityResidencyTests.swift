import ClusterCore
import XCTest

/// Passivation's pure parts: which entities leave memory, and a shard's state leaving memory and
/// coming back from its changelog records unchanged.
final class EntityResidencyTests: XCTestCase {
    func testTheLeastRecentlyUsedBeyondTheBoundAndTheIdleLeave() {
        var residency = EntityResidency(maxLive: 3, idleAfter: 1_000)
        for (index, key) in ["a", "b", "c", "d"].enumerated() { residency.touch(key, now: Int64(index)) }
        residency.touch("a", now: 10)
        XCTAssertEqual(residency.evictions(now: 11) { _ in false }, ["b"], "b is the least recently used beyond 3")
        XCTAssertEqual(residency.liveCount, 3)
        XCTAssertEqual(residency.evictions(now: 12) { _ in false }, [], "within the bound and not idle")
        XCTAssertEqual(residency.evictions(now: 1_003) { $0 == "c" }, ["d"], "idle ones leave; a busy one stays")
        XCTAssertTrue(residency.isLive("c"))
        XCTAssertEqual(residency.evictions(now: 1_010) { _ in false }, ["a"])
        XCTAssertEqual(residency.evictions(now: 2_100) { _ in false }, ["c"])
        XCTAssertEqual(residency.liveCount, 0)
    }

    func testAPassivatedEntityComesBackFromItsRecords() {
        var shard = ShardChangelog(rememberedPerKey: 4)
        var log: [ShardChangelog.Record] = []
        func handle(_ id: String, key: String, offset: Int64, state: UInt8) {
            let records = shard.records(for: HandledEvent(eventID: id, key: key, offset: offset, newState: .some([state]), emitted: [], outcome: [state]))
            let stored = records.enumerated().map { ShardChangelog.Record(key: $1.key, value: $1.value, offset: Int64(log.count + $0)) }
            log += stored
            shard.apply(stored)
        }
        handle("e1", key: "k", offset: 0, state: 1)
        handle("e2", key: "other", offset: 1, state: 7)
        handle("e3", key: "k", offset: 2, state: 2)
        let before = shard
        XCTAssertTrue(shard.passivate("k"))
        XCTAssertTrue(shard.isPassivated("k"))
        XCTAssertNil(shard.states["k"])
        XCTAssertNil(shard.outcome(ofHandled: "e3", key: "k"))
        XCTAssertEqual(shard.residentKeys, ["other"])
        let offsets = shard.reloadOffsets(of: "k")
        XCTAssertEqual(offsets.count, 3, "its state record and one record per handled id (e1, e3)")
        shard.reload("k", from: log.filter { offsets.contains($0.offset!) })
        XCTAssertEqual(shard, before, "back as it was: state, handled ids and outcomes")
        XCTAssertEqual(shard.outcome(ofHandled: "e1", key: "k"), [1])

        // A record applied without its offset cannot be found again: the entity stays.
        shard.apply([ShardChangelog.Record(key: Array("s\u{0}k".utf8), value: [3])])
        XCTAssertFalse(shard.passivate("k"))
    }
}
