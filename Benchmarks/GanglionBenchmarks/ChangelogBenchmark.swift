import ClusterCore
import Foundation

/// The agent shard's changelog bookkeeping per handled event, without I/O: each event's records
/// made (state, outbox entry, handled id, offset), queued, applied as a stored batch, and its
/// outbox entry tombstoned once forwarded — what ``ShardChangelog`` does for every event a shard
/// handles. Run with keys that each see a few events (their windows of remembered ids not yet
/// full) and with keys that see many (every new id pushes the oldest out: a busy key's steady state).
struct ChangelogBenchmark {
    let events: Int
    let rounds: Int

    func run() {
        print("== Shard changelog bookkeeping: \(events) events per run, 64 ids remembered per key, median of \(rounds) ==")
        for (label, keys) in [("fresh keys (1 event per key on average)", events), ("steady state (16 keys, windows full)", 16)] {
            var costs: [Double] = []
            var checksum = 0
            for _ in 0..<rounds {
                let (nanoseconds, records) = Self.cycle(events: events, keys: keys)
                costs.append(nanoseconds)
                checksum &+= records
            }
            print("  \(label): \(Figures.fixed(Figures.median(costs), 0)) ns per event  [records \(checksum / rounds)]")
        }
    }

    /// Nanoseconds per event of `events` events spread over `keys` keys, and the records written.
    static func cycle(events: Int, keys: Int) -> (Double, Int) {
        var changelog = ShardChangelog()
        var offset: Int64 = 0
        var written = 0
        let start = ContinuousClock.now
        var batch: [HandledEvent] = []
        for index in 0..<events {
            let key = "key-\(index % keys)"
            let id = "event-\(index)"
            let entry = OutboxEntry(id: id + "-out", topic: "counts", key: Array(key.utf8), event: Array(repeating: 7, count: 120))
            batch.append(HandledEvent(eventID: id, key: key, offset: Int64(index), newState: .some(Array(String(index).utf8)), emitted: [entry]))
            // Rounds of distinct keys, as a shard's batch commits them.
            if batch.count == min(32, keys) || index == events - 1 {
                var records = changelog.records(for: batch, committableOffset: Int64(index + 1))
                changelog.queue(records)
                changelog.coalesceProgress(&records)
                changelog.apply(records, from: offset)
                offset += Int64(records.count)
                written += records.count
                let tombstones = changelog.forwardedRecords(ids: batch.flatMap { $0.emitted.map(\.id) })
                changelog.queue(tombstones)
                changelog.apply(tombstones, from: offset)
                offset += Int64(tombstones.count)
                written += tombstones.count
                batch.removeAll(keepingCapacity: true)
            }
        }
        let elapsed = ContinuousClock.now - start
        return (elapsed / .nanoseconds(1) / Double(events), written)
    }
}
