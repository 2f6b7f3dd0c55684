import ClusterCore
import EventLog
import Foundation
import GanglionWire
import ZeroMQ

/// A partition's first offset, end and (when asked) the offset at a time: what an offset reset
/// is placed and clamped by.
struct PartitionBounds: Sendable {
    var logStart: Int64?
    var end: Int64?
    var atTime: Int64?
}

extension NodeAPI {
    /// Sets the lag gauge of each committed partition: its end less the committed offset — the
    /// end this node knows where it holds a replica, else its leader's, asked (one request per
    /// topic and leader).
    func reportLag(_ committed: [(group: String, partition: TopicPartition, offset: Int64)]) {
        var elsewhere: [String: [(group: String, partition: TopicPartition, offset: Int64)]] = [:]
        for entry in committed {
            if let end = knownHighWatermark(entry.partition) {
                NodeMetrics.lag(group: entry.group, partition: entry.partition.description, max(0, end - entry.offset))
            } else if metadata.state.topics[entry.partition.topic] != nil {
                elsewhere[entry.partition.topic, default: []].append(entry)
            }
        }
        for (topic, entries) in elsewhere {
            let numbers = Array(Set(entries.map { UInt32($0.partition.partition) })).sorted()
            // A partition without a leader now has no gauge this round.
            try? partitionBounds(topic: topic, numbers, time: nil, endsOnly: true) { found in
                guard case .success(let bounds) = found else { return }
                for entry in entries {
                    guard let end = bounds[UInt32(entry.partition.partition)]?.end else { continue }
                    NodeMetrics.lag(group: entry.group, partition: entry.partition.description, max(0, end - entry.offset))
                }
            }
        }
    }

    /// The bounds of `topic`'s partitions `numbers` (with the offset at `time` when given): from
    /// the partition's log where this node leads it (or is a cluster of one), else asked of its
    /// leader (ListOffsets, one request per leader and position) — a node's own copy of a
    /// partition it does not lead may lag, and it has no log at all of one it holds no replica
    /// of. `completion` gets every partition's bounds, or the first failure.
    func partitionBounds(topic: String, _ numbers: [UInt32], time: Int64?, endsOnly: Bool = false,
                         completion: @escaping @Sendable (Result<[UInt32: PartitionBounds], ProtocolFailure>) -> Void) throws {
        var bounds: [UInt32: PartitionBounds] = [:]
        var remote: [String: [UInt32]] = [:]
        for number in numbers {
            let key = TopicPartition(topic, Int32(number))
            if let state = placement(key), state.leader != nodeID {
                guard let leader = state.leader, let endpoint = metadata.state.nodes[leader]?.api, cluster.requests != nil else {
                    throw ProtocolFailure(.notLeader, "partition \(key) has no leader now; retry")
                }
                remote[endpoint, default: []].append(number)
                continue
            }
            let (_, log) = try partition(topic, number)
            bounds[number] = PartitionBounds(logStart: log.logStartOffset, end: log.highWatermark,
                                             atTime: try time.map { try offset(in: log, at: max($0, 0)) })
        }
        guard !remote.isEmpty, let requests = cluster.requests else { return completion(.success(bounds)) }
        let positions: [Int64] = endsOnly ? [-1] : [-2, -1] + (time.map { [max($0, 0)] } ?? [])
        let gathering = BoundsGathering(bounds, expected: remote.count * positions.count, completion: completion)
        for (endpoint, partitions) in remote {
            for position in positions {
                var request = Ganglion_V1_ListOffsetsRequest()
                request.topic = topic
                request.partitions = partitions
                request.timestamp = position
                requests.request(endpoint, kind: .listOffsets, body: request, timeout: .seconds(5)) { result in
                    gathering.take(result, position: position, asked: partitions, of: topic)
                }
            }
        }
    }
}

/// The answers of a bounds lookup's ListOffsets requests, gathered until the last (or the first
/// failure) completes it.
private final class BoundsGathering: @unchecked Sendable {
    private let lock = NSLock()
    private var bounds: [UInt32: PartitionBounds]
    private var expected: Int
    private var completion: (@Sendable (Result<[UInt32: PartitionBounds], ProtocolFailure>) -> Void)?

    init(_ bounds: [UInt32: PartitionBounds], expected: Int,
         completion: @escaping @Sendable (Result<[UInt32: PartitionBounds], ProtocolFailure>) -> Void) {
        self.bounds = bounds
        self.expected = expected
        self.completion = completion
    }

    /// One request's answer for `asked` at `position` (-2 start, -1 end, else a time).
    func take(_ result: Result<[Frame], ProtocolFailure>, position: Int64, asked: [UInt32], of topic: String) {
        let outcome: Result<[Ganglion_V1_PartitionOffset], ProtocolFailure>
        switch result {
        case .failure(let failure):
            outcome = .failure(ProtocolFailure(failure.code, "asking the leader of \(topic) partitions \(asked) for their offsets: \(failure.message)"))
        case .success(let frames):
            if let header = try? frames.first?.withUnsafeBytes({ try Ganglion_V1_ResponseHeader(inPlace: $0) }), header.error != .none {
                outcome = .failure(ProtocolFailure(header.error, header.errorMessage))
            } else if frames.count >= 2, let answer = try? frames[1].withUnsafeBytes({ try Ganglion_V1_ListOffsetsResponse(inPlace: $0) }) {
                outcome = .success(answer.offsets)
            } else {
                outcome = .failure(ProtocolFailure(.internal, "the leader of \(topic) partitions \(asked) answered no offsets"))
            }
        }
        let done: (@Sendable (Result<[UInt32: PartitionBounds], ProtocolFailure>) -> Void, Result<[UInt32: PartitionBounds], ProtocolFailure>)? = lock.withLock {
            guard let completion else { return nil }
            switch outcome {
            case .failure(let failure):
                self.completion = nil
                return (completion, .failure(failure))
            case .success(let offsets):
                for entry in offsets {
                    switch position {
                    case -2: bounds[entry.partition, default: PartitionBounds()].logStart = entry.offset
                    case -1: bounds[entry.partition, default: PartitionBounds()].end = entry.offset
                    default: bounds[entry.partition, default: PartitionBounds()].atTime = entry.offset
                    }
                }
                expected -= 1
                guard expected == 0 else { return nil }
                self.completion = nil
                return (completion, .success(bounds))
            }
        }
        if let (completion, result) = done { completion(result) }
    }
}
