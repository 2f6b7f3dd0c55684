import ClusterCore
import Foundation
import GanglionTestKit
import XCTest

/// Atomic progress under crashes: a shard handles events, appends one changelog batch per event,
/// forwards its outbox and tombstones it, and crashes at random points (before the append, after
/// it, after forwarding); the changelog is compacted at random; every restart replays it. The end
/// state equals a run without crashes, no event's state change is applied twice, every emitted
/// event reaches its topic with the same id and content, and nothing is left in the outbox.
final class ShardChangelogTests: XCTestCase {
    private static let seeds: [UInt64] = ProcessInfo.processInfo.environment["GANGLION_CHANGELOG_SEED"].flatMap(UInt64.init).map { [$0] }
        ?? Array(1...UInt64(ProcessInfo.processInfo.environment["GANGLION_CHANGELOG_SEEDS"].flatMap(Int.init) ?? 300))

    private struct Input {
        var id: String
        var key: String
    }

    /// The handler: counts events per key, emits `count % 3` events, answers with the count.
    private static func handle(_ input: Input, offset: Int64, state: [UInt8]?) -> HandledEvent {
        let count = (state.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0) + 1
        let emitted = (0..<(count % 3)).map { index in
            OutboxEntry(id: EmittedEventID.derive(inputID: input.id, agent: "counter", index: index), topic: "out", key: Array(input.key.utf8),
                        event: Array("\(input.key):\(count):\(index)".utf8))
        }
        return HandledEvent(eventID: input.id, key: input.key, offset: offset, newState: .some(Array(String(count).utf8)),
                            emitted: emitted, outcome: Array(String(count).utf8))
    }

    /// Runs the shard over `inputs`; with a generator it crashes and compacts at random.
    private static func run(_ inputs: [Input], random: inout SeededGenerator?) -> (ShardChangelog, [(String, [UInt8])]) {
        var log: [[ShardChangelog.Record]] = []
        var shard = ShardChangelog()
        var forwarded: [(String, [UInt8])] = []
        func restart() {
            if var generator = random, generator.next() % 2 == 0 {
                // Compaction keeps the newest record of each key (tombstones included), in log order.
                let flat = log.flatMap { $0 }
                var newest: [[UInt8]: Int] = [:]
                for (index, record) in flat.enumerated() { newest[record.key] = index }
                log = [flat.enumerated().filter { newest[$0.element.key] == $0.offset }.map(\.element)]
                random = generator
            }
            shard = ShardChangelog()
            for batch in log { shard.apply(batch) }
        }
        func crash(_ chance: UInt64) -> Bool {
            guard var generator = random else { return false }
            defer { random = generator }
            return generator.next() % 100 < chance
        }
        var steps = 0
        while Int(shard.nextOffset) < inputs.count || !shard.pendingOutbox.isEmpty {
            steps += 1
            if steps > 100_000 { break }
            // Forward what an earlier crash left in the outbox first.
            if !shard.pendingOutbox.isEmpty {
                let pending = shard.pendingOutbox
                for entry in pending { forwarded.append((entry.id, entry.event)) }
                if crash(10) { restart(); continue }
                let tombstones = shard.forwardedRecords(ids: pending.map(\.id))
                log.append(tombstones)
                shard.apply(tombstones)
                continue
            }
            let offset = shard.nextOffset
            let input = inputs[Int(offset)]
            let batch: [ShardChangelog.Record]
            if shard.outcome(ofHandled: input.id, key: input.key) != nil {
                batch = shard.records(skipping: offset)
            } else {
                batch = shard.records(for: handle(input, offset: offset, state: shard.states[input.key]))
            }
            if crash(10) { restart(); continue }  // before the append: nothing happened
            log.append(batch)
            shard.apply(batch)
            if crash(10) { restart(); continue }  // after the append: the outbox is resent
        }
        return (shard, forwarded)
    }

    func testCrashesNeverSeparateStateOffsetAndOutbox() {
        var failures: [String] = []
        for seed in Self.seeds {
            var generator = SeededGenerator(seed: seed)
            let keys = (0..<Int(1 + generator.next() % 6)).map { "key-\($0)" }
            var inputs: [Input] = []
            for index in 0..<Int(20 + generator.next() % 80) {
                // Some recent events arrive twice (a producer retry stored twice upstream); ids are
                // remembered for the last 64 events of each key, which covers such retries.
                if index > 0, generator.next() % 10 == 0 {
                    let window = min(inputs.count, 32)
                    inputs.append(inputs[inputs.count - 1 - Int(generator.next() % UInt64(window))])
                }
                inputs.append(Input(id: "evt-\(index)", key: keys[Int(generator.next() % UInt64(keys.count))]))
            }
            var none: SeededGenerator? = nil
            let (expected, expectedForwarded) = Self.run(inputs, random: &none)
            var chaos: SeededGenerator? = generator
            let (actual, forwarded) = Self.run(inputs, random: &chaos)
            var failure: String?
            if actual.states != expected.states { failure = "states \(actual.states.count) differ from a run without crashes" }
            if actual.nextOffset != Int64(inputs.count) { failure = "stopped at offset \(actual.nextOffset) of \(inputs.count)" }
            if !actual.pendingOutbox.isEmpty { failure = "\(actual.pendingOutbox.count) outbox entries left" }
            let expectedByID = Dictionary(expectedForwarded, uniquingKeysWith: { first, _ in first })
            var seenByID: [String: [UInt8]] = [:]
            for (id, event) in forwarded {
                if let earlier = seenByID[id], earlier != event { failure = "event \(id) forwarded with two contents" }
                seenByID[id] = event
            }
            if seenByID != expectedByID {
                let differing = expectedByID.keys.filter { seenByID[$0] != expectedByID[$0] }.sorted().prefix(3)
                    .map { "\($0): \(String(decoding: seenByID[$0] ?? [], as: UTF8.self)) vs \(String(decoding: expectedByID[$0] ?? [], as: UTF8.self))" }
                failure = "forwarded ids \(seenByID.count), expected \(expectedByID.count); differing \(differing)"
            }
            if let failure { failures.append("seed \(seed): \(failure)") }
            if failures.count >= 5 { break }
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n") + "\n(replay one with GANGLION_CHANGELOG_SEED=<seed>)")
    }

    func testARedeliveryIsRecognisedWithItsOutcome() {
        var shard = ShardChangelog(rememberedPerKey: 2)
        let first = HandledEvent(eventID: "evt-1", key: "acct", offset: 0, newState: .some([1]), emitted: [], outcome: Array("ok".utf8))
        shard.apply(shard.records(for: first))
        XCTAssertEqual(shard.outcome(ofHandled: "evt-1", key: "acct"), Array("ok".utf8))
        XCTAssertNil(shard.outcome(ofHandled: "evt-1", key: "other"))
        for index in 2...3 {
            shard.apply(shard.records(for: HandledEvent(eventID: "evt-\(index)", key: "acct", offset: Int64(index), newState: nil, emitted: [])))
        }
        XCTAssertNil(shard.outcome(ofHandled: "evt-1", key: "acct"), "only the last 2 ids per key are remembered")
        XCTAssertEqual(shard.states["acct"], [1], "an unchanged state stays")
        XCTAssertEqual(shard.nextOffset, 4)
    }

    /// An event's batch costs the same however many ids its key remembers: it adds its own id
    /// and removes the oldest, instead of rewriting the whole window (64 ids, ~1.5 KB per event).
    func testAnEventsBatchDoesNotGrowWithTheRememberedIDs() {
        var shard = ShardChangelog(rememberedPerKey: 64)
        var sizes: [Int] = []
        for index in 0..<200 {
            let event = HandledEvent(eventID: "evt-\(index)", key: "acct", offset: Int64(index), newState: .some([1]), emitted: [])
            let records = shard.records(for: event)
            sizes.append(records.reduce(0) { $0 + $1.key.count + ($1.value?.count ?? 0) })
            shard.apply(records.enumerated().map { ShardChangelog.Record(key: $1.key, value: $1.value, offset: Int64(index * 10 + $0)) })
        }
        XCTAssertLessThan(sizes.max()!, 4 * sizes.min()!, "batch sizes \(sizes.min()!)…\(sizes.max()!) bytes")
        XCTAssertNotNil(shard.outcome(ofHandled: "evt-199", key: "acct"))
        XCTAssertNotNil(shard.outcome(ofHandled: "evt-136", key: "acct"), "the newest 64 ids are remembered")
        XCTAssertNil(shard.outcome(ofHandled: "evt-135", key: "acct"))
        // A replay of what compaction keeps (the newest record per key) remembers the same ids.
        var newest: [[UInt8]: ShardChangelog.Record] = [:]
        var order: [[UInt8]] = []
        var all: [ShardChangelog.Record] = []
        var replica = ShardChangelog(rememberedPerKey: 64)
        shard = ShardChangelog(rememberedPerKey: 64)
        for index in 0..<200 {
            let records = shard.records(for: HandledEvent(eventID: "evt-\(index)", key: "acct", offset: Int64(index), newState: nil, emitted: []))
                .enumerated().map { ShardChangelog.Record(key: $1.key, value: $1.value, offset: Int64(index * 10 + $0)) }
            shard.apply(records)
            all += records
        }
        for record in all {
            if newest[record.key] == nil { order.append(record.key) }
            newest[record.key] = record
        }
        replica.apply(all.filter { newest[$0.key]?.offset == $0.offset })
        XCTAssertEqual(replica, shard)
        // Passivated and reloaded from the records it names, the key remembers the same ids.
        XCTAssertTrue(shard.passivate("acct"))
        let wanted = Set(shard.reloadOffsets(of: "acct"))
        shard.reload("acct", from: all.filter { wanted.contains($0.offset!) })
        XCTAssertEqual(replica, shard)
    }

    /// A changelog written before ids were recorded one by one (one record holding a key's whole
    /// window) still replays: its ids are remembered, and newer ids join them.
    func testTheOlderWindowRecordStillReplays() {
        var value: [UInt8] = []
        func integer(_ number: Int64) { withUnsafeBytes(of: number.bigEndian) { value += $0 } }
        integer(2)
        for id in ["old-1", "old-2"] {
            integer(Int64(id.utf8.count))
            value += Array(id.utf8)
            integer(2)
            value += Array("ok".utf8)
        }
        var shard = ShardChangelog(rememberedPerKey: 3)
        shard.apply([ShardChangelog.Record(key: Array("h\u{0}acct".utf8), value: value, offset: 0)])
        XCTAssertEqual(shard.outcome(ofHandled: "old-1", key: "acct"), Array("ok".utf8))
        for index in 0..<2 {
            shard.apply(shard.records(for: HandledEvent(eventID: "new-\(index)", key: "acct", offset: Int64(index), newState: nil, emitted: []))
                .map { ShardChangelog.Record(key: $0.key, value: $0.value, offset: Int64(index + 1)) })
        }
        XCTAssertNil(shard.outcome(ofHandled: "old-1", key: "acct"), "the window holds 3 ids")
        XCTAssertNotNil(shard.outcome(ofHandled: "old-2", key: "acct"))
        XCTAssertNotNil(shard.outcome(ofHandled: "new-1", key: "acct"))
    }

    func testTimersAreScheduledReplacedFiredAndCancelledWithTheirBatch() {
        var shard = ShardChangelog()
        let scheduling = HandledEvent(eventID: "e1", key: "order-1", offset: 0, newState: .some([1]), emitted: [],
                                      timerChanges: [.schedule(name: "expire", fireAt: 5_000, data: [9]), .schedule(name: "remind", fireAt: 1_000, data: [])])
        shard.apply(shard.records(for: scheduling))
        XCTAssertEqual(shard.nextTimerDue, 1_000)
        XCTAssertEqual(shard.dueTimers(at: 999), [])
        XCTAssertEqual(shard.dueTimers(at: 5_000).map(\.name), ["remind", "expire"], "earliest first")

        // The reminder fires: the timer goes in the same batch; no offset moves, no id is remembered.
        let remind = ShardTimer(key: "order-1", name: "remind", fireAt: 1_000)
        XCTAssertTrue(shard.isPending(remind))
        let firing = HandledEvent(eventID: "timer/order-1/remind/1000", key: "order-1", offset: -1, newState: .some([2]), emitted: [],
                                  timerChanges: [.schedule(name: "expire", fireAt: 9_000, data: [7])], firedTimer: remind)
        let records = shard.records(for: firing)
        XCTAssertFalse(records.contains { $0.key == Array("o".utf8) }, "a timer moves no input offset")
        shard.apply(records)
        XCTAssertFalse(shard.isPending(remind))
        XCTAssertNil(shard.outcome(ofHandled: firing.eventID, key: "order-1"))
        XCTAssertEqual(shard.nextOffset, 1)
        XCTAssertEqual(shard.dueTimers(at: 10_000), [ShardTimer(key: "order-1", name: "expire", fireAt: 9_000, data: [7])], "replaced, not doubled")

        // Replayed from the log (compaction keeps the newest record per key), the same timers.
        var replayed = ShardChangelog()
        replayed.apply(shard.records(for: scheduling) + records)
        XCTAssertEqual(replayed.timers, shard.timers)

        let cancelling = HandledEvent(eventID: "e2", key: "order-1", offset: 1, newState: nil, emitted: [], timerChanges: [.cancel(name: "expire")])
        shard.apply(shard.records(for: cancelling))
        XCTAssertNil(shard.nextTimerDue)
        XCTAssertTrue(shard.timers.isEmpty)
    }

    func testATimerOfAKeyWithAnyBytesRoundTrips() {
        var shard = ShardChangelog()
        let key = "order\u{0}7:x", name = "re\u{0}mind"
        let event = HandledEvent(eventID: "e1", key: key, offset: 0, newState: nil, emitted: [],
                                 timerChanges: [.schedule(name: name, fireAt: 10, data: [1])])
        shard.apply(shard.records(for: event))
        XCTAssertEqual(shard.dueTimers(at: 10), [ShardTimer(key: key, name: name, fireAt: 10, data: [1])])
        var replayed = ShardChangelog()
        replayed.apply(shard.records(for: event))
        XCTAssertEqual(replayed.timers, shard.timers)
    }

    func testDueTimersComeInFiringOrderAcrossReplacementsAndCancels() {
        var shard = ShardChangelog()
        var random = SeededGenerator(seed: 7)
        var expected: [String: [String: Int64]] = [:]
        for index in 0..<400 {
            let key = "k\(random.next() % 20)", name = "t\(random.next() % 5)"
            let change: TimerChange = random.next() % 4 == 0 ? .cancel(name: name) : .schedule(name: name, fireAt: Int64(random.next() % 1000), data: [])
            shard.apply(shard.records(for: HandledEvent(eventID: "e\(index)", key: key, offset: Int64(index), newState: nil, emitted: [], timerChanges: [change])))
            switch change {
            case .schedule(_, let fireAt, _): expected[key, default: [:]][name] = fireAt
            case .cancel: expected[key]?[name] = nil
            }
        }
        let all = expected.flatMap { key, names in names.map { ShardTimer(key: key, name: $0.key, fireAt: $0.value) } }
            .sorted { ($0.fireAt, $0.key, $0.name) < ($1.fireAt, $1.key, $1.name) }
        XCTAssertEqual(shard.dueTimers(at: 10_000), all, "every pending timer once, in firing order")
        XCTAssertEqual(shard.dueTimers(at: 500), all.filter { $0.fireAt <= 500 })
        XCTAssertEqual(shard.nextTimerDue, all.first?.fireAt)
        XCTAssertEqual(shard.nextTimerDue(excluding: Set(all.prefix(3))), all.dropFirst(3).first?.fireAt)
    }
}
