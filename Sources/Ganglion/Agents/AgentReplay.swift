import Foundation
import GanglionWire

/// Where a replay's range of history starts.
public enum ReplayStart: Sendable, Hashable {
    /// The beginning of every partition.
    case beginning
    /// The first event at or after this time.
    case time(Date)
    /// These offsets, per partition.
    case offsets([UInt32: Int64])
}

extension AgentHost {
    /// Replays `agent` over a range of its topic's history in a shadow (``run(_:shadow:)``): its
    /// own group, changelog and shadow topics for everything it emits — to compare a new policy's
    /// or model's decisions with the recorded ones. The range runs from `start` to `until` (a
    /// time), or to the topic's end when the replay starts; returns once every partition is
    /// handled up to the range's end. Names of the shadow topics: ``shadowTopic(_:shadow:)``.
    /// A shadow name is one replay: a new name starts fresh, while running a name again continues
    /// where its shadow group and changelog stopped.
    public func replay<A: Agent>(_ agent: A, shadow: String, from start: ReplayStart = .beginning, until end: Date? = nil,
                                 timeout: Duration = .seconds(120)) async throws {
        let topic = agent.subscription.topic
        let group = Self.shadowGroup(agent.name, shadow: shadow)
        switch start {
        case .beginning: break
        case .time(let time):
            _ = try await client.resetOffsets(group: group, topic: topic, to: .timestamp(Int64(time.timeIntervalSince1970 * 1000)))
        case .offsets(let offsets):
            for (partition, offset) in offsets {
                _ = try await client.resetOffsets(group: group, topic: topic, partitions: [partition], to: .offset(offset))
            }
        }
        let ends: [UInt32: Int64]
        if let end {
            ends = Dictionary(try await client.listOffsets(topic: topic, timestamp: Int64(end.timeIntervalSince1970 * 1000))
                .map { ($0.partition, $0.offset) }) { $1 }
        } else {
            // Each partition's end from its leader (a node's own metadata knows only the
            // partitions it holds a replica of).
            ends = Dictionary(try await client.listOffsets(topic: topic, timestamp: -1).map { ($0.partition, $0.offset) }) { $1 }
        }
        let stopped = FailureBox()
        let running = Task {
            do { try await self.run(agent, shadow: shadow, endOffsets: ends) } catch { _ = stopped.set(error) }
        }
        defer { running.cancel() }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if let error = stopped.error, !(error is CancellationError) { throw error }
            let committed = Dictionary(try await client.describeGroup(group).lag.map { ($0.partition, $0.committedOffset) }) { $1 }
            if ends.allSatisfy({ partition, end in end == 0 || (committed[partition] ?? 0) >= end }) {
                running.cancel()
                // A graceful stop: the shards' outboxes are forwarded before it returns.
                _ = await running.result
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw GanglionError(code: .timeout, message: "the replay of \(agent.name) did not reach the end of its range within \(timeout)")
    }
}
