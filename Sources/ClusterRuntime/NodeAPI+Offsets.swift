import ClusterCore
import EventLog
import GanglionWire

/// Offsets by position or time, group listing and offset resets.
extension NodeAPI {
    /// The partitions a request names, or every partition of the topic when it names none.
    func partitions(of topic: String, _ requested: [UInt32]) throws -> [(TopicPartition, PartitionLog)] {
        guard let configuration = metadata.state.topics[topic] else {
            throw ProtocolFailure(.unknownTopic, "topic \(topic) does not exist")
        }
        let numbers = requested.isEmpty ? Array(0..<UInt32(configuration.partitions)) : requested
        return try numbers.map { try partition(topic, $0) }
    }

    /// Kafka's ListOffsets: the log start (-2), the log end (-1), or the first offset at or
    /// after a time (the log end when no record is that late).
    func listOffsets(_ request: Ganglion_V1_ListOffsetsRequest) throws -> Ganglion_V1_ListOffsetsResponse {
        guard request.timestamp >= -2 else {
            throw ProtocolFailure(.invalidConfig, "timestamp \(request.timestamp) is neither -2 (earliest), -1 (latest) nor a time in ms")
        }
        var response = Ganglion_V1_ListOffsetsResponse()
        for (key, log) in try partitions(of: request.topic, request.partitions) {
            if let state = placement(key) { _ = try leadership(key, state: state) }
            var entry = Ganglion_V1_PartitionOffset()
            entry.topic = key.topic
            entry.partition = UInt32(key.partition)
            entry.offset = try offset(in: log, at: request.timestamp)
            response.offsets.append(entry)
        }
        return response
    }

    func offset(in log: PartitionLog, at timestamp: Int64) throws -> Int64 {
        switch timestamp {
        case -2: log.logStartOffset
        case -1: log.highWatermark
        default: try log.offset(forTimestamp: timestamp).map { min($0, log.highWatermark) } ?? log.highWatermark
        }
    }

    /// Computes (and unless a dry run, stores) a group's new offsets on one topic.
    func resetOffsets(_ request: Ganglion_V1_ResetOffsetsRequest,
                      completion: @escaping @Sendable (Result<Ganglion_V1_ResetOffsetsResponse, any Error>) -> Void) throws {
        guard !request.group.isEmpty else { throw ProtocolFailure(.malformedRequest, "a reset names its group") }
        guard let target = request.target else {
            throw ProtocolFailure(.malformedRequest, "a reset names its target: earliest, latest, an offset, a time or a shift")
        }
        let service = try groupService(for: request.group)
        guard let configuration = metadata.state.topics[request.topic] else {
            throw ProtocolFailure(.unknownTopic, "topic \(request.topic) does not exist")
        }
        let numbers = request.partitions.isEmpty ? Array(0..<UInt32(configuration.partitions)) : request.partitions
        if let beyond = numbers.first(where: { $0 >= configuration.partitions }) {
            throw ProtocolFailure(.unknownPartition, "topic \(request.topic) has partitions 0…\(configuration.partitions - 1), not \(beyond)")
        }
        let time: Int64? = if case .toTimestamp(let time) = target { time } else { nil }
        // Each partition's bounds from its leader, wherever it is (a cluster's coordinator holds
        // replicas of only some partitions).
        try partitionBounds(topic: request.topic, numbers, time: time) { found in
            guard case .success(let bounds) = found else {
                if case .failure(let failure) = found { completion(.failure(failure)) }
                return
            }
            var offsets: [TopicPartition: Int64] = [:]
            var response = Ganglion_V1_ResetOffsetsResponse()
            for number in numbers {
                let key = TopicPartition(request.topic, Int32(number))
                guard let start = bounds[number]?.logStart, let end = bounds[number]?.end else {
                    return completion(.failure(ProtocolFailure(.notLeader, "no offsets of \(key) were learnt from its leader; retry")))
                }
                let wanted: Int64 = switch target {
                case .toEarliest: start
                case .toLatest: end
                case .toOffset(let offset): offset
                case .toTimestamp: bounds[number]?.atTime ?? end
                case .shiftBy(let shift): (service.committedOffset(group: request.group, partition: key) ?? start) &+ shift
                }
                let clamped = min(max(wanted, start), end)
                offsets[key] = clamped
                var entry = Ganglion_V1_PartitionOffset()
                entry.topic = key.topic
                entry.partition = UInt32(key.partition)
                entry.offset = clamped
                response.offsets.append(entry)
            }
            let answer = response
            service.resetOffsets(group: request.group, to: offsets, dryRun: request.dryRun) { result in completion(result.map { answer }) }
        }
    }
}
