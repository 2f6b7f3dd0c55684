import ClusterCore
import EventLog
import Foundation
import GanglionWire

/// Consumer groups: one ``GroupCoordinator`` per group, driven by requests and a clock, with
/// committed offsets made durable in an offsets log before they are acknowledged, and restored
/// from it on start — a cluster of one's own `__consumer_offsets-0`, or on a cluster one
/// replicated `__consumer_offsets` partition, whose leader runs the service for its groups
/// (``GroupDirectory``) and keeps their epochs there too.
final class GroupService: @unchecked Sendable {
    // `coordinators` is guarded by `lock`; the log is thread-safe.
    private let lock = NSLock()
    private var coordinators: [String: GroupCoordinator] = [:]
    /// The metadata committed with each group's offsets (absent when empty).
    private var offsetMetadata: [String: [TopicPartition: String]] = [:]
    /// The node each member reaches the cluster through (and that node's incarnation then), by group.
    private var memberNodes: [String: [String: (node: String, incarnation: UInt64?)]] = [:]
    /// Where in the offsets log each partition's visible commit was stored.
    private var appliedAt: [String: [TopicPartition: Int64]] = [:]
    /// The id of the topic each committed offset was committed on (absent: none known).
    private var offsetTopicIDs: [String: [TopicPartition: String]] = [:]
    private let storage: any GroupOffsetsStorage
    private var offsets: PartitionLog { storage.log }
    /// The newest epoch recorded for each group in the offsets log (a cluster's).
    private var recordedEpochs: [String: Int32] = [:]
    /// Each group's members as last recorded in the offsets log (a cluster's).
    private var recordedMembers: [String: [String: MemberRecord]] = [:]
    private let metadata: any MetadataLog
    private let clock: @Sendable () -> Int64
    /// How often members should heartbeat.
    let heartbeatInterval: UInt32 = 500
    /// The interval asked of a member waiting for partitions another member still holds.
    let awaitingHeartbeatInterval: UInt32 = 100

    private let sessionTimeout: Int64

    /// A cluster of one's groups, their offsets in `dataDirectory`'s `__consumer_offsets-0`.
    convenience init(dataDirectory: String, metadata: any MetadataLog, sessionTimeout: Int64 = 10_000,
                     clock: @escaping @Sendable () -> Int64 = PartitionLog.systemClock, faults: LogFaults? = nil,
                     offsetsSegmentBytes: Int = 8 << 20) throws {
        try self.init(storage: LocalOffsetsStorage(dataDirectory: dataDirectory, clock: clock, faults: faults, segmentBytes: offsetsSegmentBytes),
                      metadata: metadata, sessionTimeout: sessionTimeout, clock: clock)
    }

    /// The groups whose offsets `storage` holds, restored from its log.
    init(storage: any GroupOffsetsStorage, metadata: any MetadataLog, sessionTimeout: Int64 = 10_000,
         clock: @escaping @Sendable () -> Int64 = PartitionLog.systemClock) throws {
        self.sessionTimeout = sessionTimeout
        self.storage = storage
        self.metadata = metadata
        self.clock = clock
        try Self.forEachRecord(in: storage.log) { record in
            if let key = record.key, let (group, member) = Self.decodeMemberKey(key) {
                let state = record.value.flatMap { try? JSONDecoder().decode(MemberRecord.self, from: Data($0)) }
                lock.withLock { recordedMembers[group, default: [:]][member] = state }
                return
            }
            if let key = record.key, let group = Self.decodeEpochKey(key) {
                if let epoch = record.value.flatMap(Self.decodeEpoch) { lock.withLock { recordedEpochs[group] = max(recordedEpochs[group] ?? 0, epoch) } }
                return
            }
            guard let key = record.key, let (group, partition) = Self.decodeKey(key) else { return }
            // A tombstone (no value) forgets the offset: its topic was deleted.
            let decoded = record.value.flatMap(OffsetValue.init(decoding:))
            lock.withLock {
                var coordinator = coordinators[group] ?? newCoordinator(group)
                coordinator.restoreOffset(decoded?.offset, for: partition)
                coordinators[group] = coordinator
                offsetMetadata[group, default: [:]][partition] = decoded?.metadata.isEmpty == false ? decoded?.metadata : nil
                offsetTopicIDs[group, default: [:]][partition] = decoded?.topicID
                appliedAt[group, default: [:]][partition] = record.offset
            }
        }
        // Coordinators restored from offsets continue after their recorded epochs, with their
        // recorded members (each given a full session to heartbeat here).
        let now = clock()
        lock.withLock {
            for (group, epoch) in recordedEpochs where coordinators[group] != nil && coordinators[group]!.groupEpoch < epoch {
                var coordinator = newCoordinator(group)
                for (partition, offset) in coordinators[group]!.committedOffsets { coordinator.restoreOffset(offset, for: partition) }
                coordinators[group] = coordinator
            }
            for (group, members) in recordedMembers {
                var coordinator = coordinators[group] ?? newCoordinator(group)
                coordinator.updateTopics(metadata.state.topics.mapValues(\.partitions))
                for (id, state) in members.sorted(by: { $0.key < $1.key }) {
                    let assigned = Set(state.assigned.compactMap { pair in pair.count == 2 ? Int32(pair[1]).map { TopicPartition(pair[0], $0) } : nil })
                    coordinator.restoreMember(MemberID(id), epoch: state.epoch, subscribedTopics: Set(state.topics), assigned: assigned, now: now)
                    if let node = state.node { memberNodes[group, default: [:]][id] = (node, state.incarnation) }
                }
                coordinators[group] = coordinator
            }
        }
        // Offsets of a topic deleted while no coordinator of theirs had them loaded, and made
        // again since: they were committed on another topic id than the one of that name now.
        let topics = metadata.state.topics
        forgetOffsets { partition, recordedID in
            guard let recordedID, let current = topics[partition.topic]?.topicID else { return false }
            return recordedID != current
        }
    }

    private func withCoordinator<T>(_ group: String, _ body: (inout GroupCoordinator) throws -> T) rethrows -> T {
        try lock.withLock {
            var coordinator = coordinators[group] ?? newCoordinator(group)
            coordinator.updateTopics(metadata.state.topics.mapValues(\.partitions))
            defer {
                record(coordinator)
                if let milliseconds = coordinator.takeFinishedRebalance() {
                    NodeMetrics.rebalanceFinished(group: group, seconds: Double(milliseconds) / 1000)
                }
                coordinators[group] = coordinator
            }
            return try body(&coordinator)
        }
    }

    /// A coordinator whose epochs continue after the last assignment in the metadata log.
    private func newCoordinator(_ group: String) -> GroupCoordinator {
        GroupCoordinator(groupID: group, sessionTimeout: sessionTimeout, rebalanceTimeout: 60_000,
                         epoch: max(metadata.state.groupAssignments[group]?.epoch ?? 0, recordedEpochs[group] ?? 0))
    }

    /// Appends the coordinator's target assignment to the metadata log when it is new (the log the
    /// controller will replicate, so every node knows who owns what).
    private func record(_ coordinator: GroupCoordinator) {
        if storage.keepsEpochs { return recordInOffsets(coordinator) }
        let recorded = metadata.state.groupAssignments[coordinator.groupID]?.epoch ?? -1
        guard coordinator.targetEpoch > recorded, coordinator.targetEpoch > 0 else { return }
        let members = coordinator.targetAssignment.reduce(into: [String: [TopicPartition]]()) { $0[$1.key.value] = $1.value.sorted() }
        let group = coordinator.groupID
        // Recorded without waiting for the fsync (callers hold the group lock on the socket
        // thread). A refusal is harmless: the in-memory coordinator stays authoritative on one
        // node, an epoch already on its way is refused as not new, and the next change records again.
        metadata.commit(deciding: { state in
            guard (state.groupAssignments[group]?.epoch ?? -1) < coordinator.targetEpoch else {
                throw ProtocolFailure(.invalidConfig, "group \(group) epoch \(coordinator.targetEpoch) is already recorded")
            }
            return .groupAssignment(group: group, assignment: GroupAssignment(epoch: coordinator.targetEpoch, members: members))
        }) { result in
            if case .success = result { NodeMetrics.rebalanced(group: group) }
        }
    }

    /// A cluster's record of a new group epoch, next to the group's offsets (so the group's next
    /// coordinator continues after it); called under `lock`, stored without waiting.
    private func recordInOffsets(_ coordinator: GroupCoordinator) {
        let group = coordinator.groupID, epoch = coordinator.targetEpoch
        var batch = RecordBatchBuilder()
        let newEpoch = epoch > 0 && epoch > recordedEpochs[group] ?? -1
        if newEpoch {
            recordedEpochs[group] = epoch
            batch.append(key: Self.encodeEpochKey(group), value: withUnsafeBytes(of: epoch.bigEndian) { Array($0) }, timestamp: clock())
        }
        // Each member as it is now (epoch, subscription, partitions), so the group's next
        // coordinator continues with the same members holding the same partitions instead of
        // handing them to whoever rejoins first while their owners still run them.
        var recorded = recordedMembers[group] ?? [:]
        for member in coordinator.members.values {
            let node = memberNodes[group]?[member.id.value]
            let state = MemberRecord(epoch: member.memberEpoch, topics: member.subscribedTopics.sorted(),
                                     assigned: member.held.sorted().map { [$0.topic, String($0.partition)] }, node: node?.node, incarnation: node?.incarnation)
            guard recorded[member.id.value] != state, let value = try? JSONEncoder().encode(state) else { continue }
            recorded[member.id.value] = state
            batch.append(key: Self.encodeMemberKey(group, member.id.value), value: Array(value), timestamp: clock())
        }
        for gone in recorded.keys where coordinator.members[MemberID(gone)] == nil {
            recorded[gone] = nil
            batch.append(key: Self.encodeMemberKey(group, gone), value: nil, timestamp: clock())
        }
        recordedMembers[group] = recorded
        guard batch.count > 0 else { return }
        storage.append(batch.build()) { result in
            if newEpoch, case .success = result { NodeMetrics.rebalanced(group: group) }
        }
    }

    /// A member as a cluster's offsets partition records it.
    struct MemberRecord: Codable, Equatable {
        var epoch: Int32
        var topics: [String]
        /// Held partitions as [topic, partition number].
        var assigned: [[String]]
        /// The node it runs on, and that node's incarnation then.
        var node: String?
        var incarnation: UInt64?
    }

    /// Removes members whose sessions expired, and those whose node `isGone(node, incarnation)`
    /// says has left the cluster (called periodically).
    func expireMembers(isGone: (String, UInt64?) -> Bool = { _, _ in false }) {
        let now = clock()
        lock.withLock {
            for group in coordinators.keys {
                _ = coordinators[group]!.expireMembers(now: now)
                let gone = (memberNodes[group] ?? [:]).filter { isGone($0.value.node, $0.value.incarnation) }.map { MemberID($0.key) }
                if !gone.isEmpty { _ = coordinators[group]!.removeMembers(gone) }
                record(coordinators[group]!)
                let members = Set(coordinators[group]!.members.keys.map(\.value))
                memberNodes[group] = memberNodes[group]?.filter { members.contains($0.key) }
            }
        }
    }

    /// A member's heartbeat, arriving through node `node` (where the member runs).
    func heartbeat(_ request: Ganglion_V1_GroupHeartbeatRequest, via node: String = "") throws -> Ganglion_V1_GroupHeartbeatResponse {
        guard !request.group.isEmpty else { throw ProtocolFailure(.malformedRequest, "a heartbeat names its group") }
        let owned: Set<TopicPartition>? = request.memberEpoch > 0 || !request.owned.isEmpty ? Self.partitions(request.owned) : nil
        let heartbeat = MemberHeartbeat(
            memberID: request.memberID.isEmpty ? nil : MemberID(request.memberID), memberEpoch: request.memberEpoch,
            subscribedTopics: request.subscribedTopics.isEmpty ? nil : Set(request.subscribedTopics), ownedPartitions: owned)
        let now = clock()
        let answer: HeartbeatResponse
        do {
            answer = try withCoordinator(request.group) { try $0.heartbeat(heartbeat, now: now) }
        } catch let error as GroupError {
            throw ProtocolFailure(Self.code(error.code), error.message)
        }
        if !node.isEmpty {
            let incarnation = metadata.state.nodes[node]?.incarnation
            lock.withLock { memberNodes[request.group, default: [:]][answer.memberID.value] = (node, incarnation) }
        }
        var response = Ganglion_V1_GroupHeartbeatResponse()
        response.memberID = answer.memberID.value
        response.memberEpoch = answer.memberEpoch
        response.assignment = Self.topicPartitions(answer.assignment)
        // A member waiting for partitions another still holds comes back soon, so it takes
        // them as soon as they are released (the handoff), not a whole interval later.
        response.heartbeatIntervalMs = answer.awaitingPartitions ? awaitingHeartbeatInterval : heartbeatInterval
        return response
    }

    /// Calls `body` with every record of `log`, a chunk at a time (never the whole log in memory).
    private static func forEachRecord(in log: PartitionLog, _ body: (Record) -> Void) throws {
        var position = log.logStartOffset
        while position < log.logEndOffset {
            let read = try log.read(from: position, maxBytes: 1 << 20)
            for record in try RecordDecoder.records(inBatches: read.bytes) where record.offset >= position { body(record) }
            guard read.nextOffset > position else { break }
            position = read.nextOffset
        }
    }

    /// Compacts the offsets log to the newest commit of each partition (run by the node's
    /// maintenance, off the socket thread).
    func maintain() {
        storage.maintain()
    }

    /// The offsets log's segment and record counts (tests and figures).
    func offsetsLogFigures() throws -> (segments: Int, records: Int) {
        var records = 0
        try Self.forEachRecord(in: offsets) { _ in records += 1 }
        return (offsets.segmentBaseOffsets.count, records)
    }

    /// The most bytes of metadata stored with a committed offset (Kafka's offset.metadata.max.bytes).
    static let maxOffsetMetadataBytes = 4096

    /// Commits offsets without waiting on the caller's thread: each partition is checked (member,
    /// epoch, ownership, an offset within 0…the partition's high watermark, metadata size) and
    /// refused on its own; the accepted ones go to the offsets log as one batch, and only once it
    /// is durable do they become visible and is `completion` called (on the log's flusher thread).
    func commit(_ request: Ganglion_V1_OffsetCommitRequest, highWatermark: (TopicPartition) -> Int64?,
                completion: @escaping @Sendable (Result<Ganglion_V1_OffsetCommitResponse, any Error>) -> Void) {
        var response = Ganglion_V1_OffsetCommitResponse()
        var accepted: [(TopicPartition, Int64, String)] = []
        let coordinator = lock.withLock { coordinators[request.group] }
        for entry in request.offsets {
            let partition = TopicPartition(entry.topic, Int32(clamping: entry.partition))
            var outcome = Ganglion_V1_PartitionError()
            outcome.topic = entry.topic
            outcome.partition = entry.partition
            do {
                try checkCommit(entry, partition, group: request.group, coordinator: coordinator,
                                member: MemberID(request.memberID), epoch: request.memberEpoch, highWatermark: highWatermark)
                accepted.append((partition, entry.offset, entry.metadata))
            } catch let failure as ProtocolFailure {
                outcome.error = failure.code
                outcome.message = failure.message
            } catch {
                outcome.error = .internal
                outcome.message = "\(error)"
            }
            response.errors.append(outcome)
        }
        guard !accepted.isEmpty else { return completion(.success(response)) }
        var batch = RecordBatchBuilder()
        let topics = metadata.state.topics
        let stored = accepted.map { OffsetEntry(partition: $0.0, value: OffsetValue(offset: $0.1, metadata: $0.2, topicID: topics[$0.0.topic]?.topicID)) }
        for entry in stored {
            batch.append(key: Self.encodeKey(request.group, entry.partition), value: entry.value.encoded, timestamp: clock())
        }
        let group = request.group, answer = response
        storage.append(batch.build()) { [self] result in
            switch result {
            case .success(let first):
                apply(stored, group: group, at: first)
                completion(.success(answer))
            case .failure(let error):
                completion(.failure(error))
            }
        }
    }

    /// Refuses one partition's commit with the code that fits, or returns.
    private func checkCommit(_ entry: Ganglion_V1_PartitionOffset, _ partition: TopicPartition, group: String, coordinator: GroupCoordinator?,
                             member: MemberID, epoch: Int32, highWatermark: (TopicPartition) -> Int64?) throws {
        guard let coordinator else {
            throw ProtocolFailure(.unknownMemberID, "group \(group) has no member \(member); join it before committing")
        }
        do {
            try coordinator.checkCommit(memberID: member, memberEpoch: epoch, partition: partition)
        } catch {
            throw ProtocolFailure(Self.code(error.code), error.message)
        }
        guard let end = highWatermark(partition) else {
            throw ProtocolFailure(.unknownPartition, "\(partition) does not exist")
        }
        guard entry.offset >= 0, entry.offset <= end else {
            throw ProtocolFailure(.offsetOutOfRange, "offset \(entry.offset) of \(partition) is outside 0…\(end) (its high watermark \(end)); commit the offset of the next record to consume")
        }
        guard entry.metadata.utf8.count <= Self.maxOffsetMetadataBytes else {
            throw ProtocolFailure(.invalidConfig, "the metadata committed with \(partition) is \(entry.metadata.utf8.count) bytes; the limit is \(Self.maxOffsetMetadataBytes)")
        }
    }

    /// A partition's offset as committed.
    struct OffsetEntry: Sendable {
        var partition: TopicPartition
        var value: OffsetValue
    }

    /// Makes durable commits visible; a commit durable after a newer one of the same partition
    /// (`at`: its position in the offsets log) does not undo it.
    private func apply(_ accepted: [OffsetEntry], group: String, at position: Int64) {
        lock.withLock {
            var coordinator = coordinators[group] ?? newCoordinator(group)
            for entry in accepted where position >= appliedAt[group]?[entry.partition] ?? -1 {
                appliedAt[group, default: [:]][entry.partition] = position
                coordinator.restoreOffset(entry.value.offset, for: entry.partition)
                offsetMetadata[group, default: [:]][entry.partition] = entry.value.metadata.isEmpty ? nil : entry.value.metadata
                offsetTopicIDs[group, default: [:]][entry.partition] = entry.value.topicID
            }
            coordinators[group] = coordinator
        }
    }

    func fetchOffsets(_ request: Ganglion_V1_OffsetFetchRequest) -> Ganglion_V1_OffsetFetchResponse {
        let (committed, metadata) = lock.withLock { (coordinators[request.group]?.committedOffsets ?? [:], offsetMetadata[request.group] ?? [:]) }
        let wanted = request.partitions.isEmpty ? Set(committed.keys) : Self.partitions(request.partitions)
        var response = Ganglion_V1_OffsetFetchResponse()
        for partition in wanted.sorted() {
            guard let offset = committed[partition] else { continue }
            var entry = Ganglion_V1_PartitionOffset()
            entry.topic = partition.topic
            entry.partition = UInt32(partition.partition)
            entry.offset = offset
            entry.metadata = metadata[partition] ?? ""
            response.offsets.append(entry)
        }
        return response
    }

    func describe(_ request: Ganglion_V1_DescribeGroupRequest, highWatermark: (TopicPartition) -> Int64?) -> Ganglion_V1_DescribeGroupResponse {
        let (coordinator, nodes) = lock.withLock { (coordinators[request.group], memberNodes[request.group] ?? [:]) }
        var response = Ganglion_V1_DescribeGroupResponse()
        response.group = request.group
        guard let coordinator else { return response }
        response.groupEpoch = coordinator.groupEpoch
        for member in coordinator.members.values.sorted(by: { $0.id < $1.id }) {
            var description = Ganglion_V1_GroupMemberDescription()
            description.memberID = member.id.value
            description.memberEpoch = member.memberEpoch
            description.state = member.state.rawValue
            description.assigned = Self.topicPartitions(member.assigned)
            description.pendingRevocation = Self.topicPartitions(member.pendingRevocation)
            description.subscribedTopics = member.subscribedTopics.sorted()
            description.node = nodes[member.id.value]?.node ?? ""
            response.members.append(description)
        }
        for (partition, offset) in coordinator.committedOffsets.sorted(by: { $0.key < $1.key }) {
            var lag = Ganglion_V1_PartitionLag()
            lag.topic = partition.topic
            lag.partition = UInt32(partition.partition)
            lag.committedOffset = offset
            // -1: this node holds no replica of the partition (its leader knows the end).
            lag.highWatermark = highWatermark(partition) ?? -1
            lag.lag = lag.highWatermark < 0 ? -1 : max(0, lag.highWatermark - offset)
            response.lag.append(lag)
        }
        let held = coordinator.members.values.flatMap { $0.assigned.union($0.pendingRevocation) }
        for partition in Set(held).subtracting(coordinator.committedOffsets.keys).sorted() {
            var lag = Ganglion_V1_PartitionLag()
            lag.topic = partition.topic
            lag.partition = UInt32(partition.partition)
            lag.committedOffset = -1
            lag.highWatermark = highWatermark(partition) ?? -1
            lag.lag = -1
            response.uncommitted.append(lag)
        }
        return response
    }

    /// Forgets every group's committed offsets on a deleted topic (tombstones in the offsets log),
    /// so a topic created again under the name starts from its beginning.
    func forgetOffsets(ofTopic topic: String) {
        forgetOffsets { partition, _ in partition.topic == topic }
    }

    /// Forgets every group's committed offsets on `topic` committed on another topic id than
    /// `topicID` (an earlier topic of the name); those with no id recorded stay.
    func forgetOffsets(ofTopic topic: String, otherThan topicID: String) {
        forgetOffsets { partition, recordedID in partition.topic == topic && recordedID.map { $0 != topicID } ?? false }
    }

    /// Forgets the committed offsets `forget(partition, recorded topic id)` picks, in memory at
    /// once and by tombstones in the offsets log.
    private func forgetOffsets(where forget: (TopicPartition, String?) -> Bool) {
        let batch = lock.withLock {
            var batch = RecordBatchBuilder()
            for (group, coordinator) in coordinators {
                for partition in coordinator.committedOffsets.keys where forget(partition, offsetTopicIDs[group]?[partition]) {
                    batch.append(key: Self.encodeKey(group, partition), value: nil, timestamp: clock())
                    coordinators[group]!.restoreOffset(nil, for: partition)
                    offsetMetadata[group]?[partition] = nil
                    offsetTopicIDs[group]?[partition] = nil
                }
            }
            return batch
        }
        guard batch.count > 0 else { return }
        // Forgotten in memory at once; a tombstone that fails to store leaves an offset a restart
        // restores, which a topic made again under the name does not take (its id differs).
        storage.append(batch.build()) { _ in }
    }

    /// Every group's committed offsets.
    func committedOffsets() -> [String: [TopicPartition: Int64]] {
        lock.withLock { coordinators.mapValues(\.committedOffsets) }
    }

    /// Every group with members or committed offsets, by name.
    func list() -> Ganglion_V1_ListGroupsResponse {
        let all = lock.withLock { coordinators.values.sorted { $0.groupID < $1.groupID } }
        var response = Ganglion_V1_ListGroupsResponse()
        for coordinator in all {
            var summary = Ganglion_V1_GroupSummary()
            summary.group = coordinator.groupID
            summary.groupEpoch = coordinator.groupEpoch
            summary.members = UInt32(coordinator.members.count)
            summary.state = coordinator.members.isEmpty ? "empty"
                : coordinator.members.values.allSatisfy { $0.state == .stable } ? "stable" : "reconciling"
            response.groups.append(summary)
        }
        return response
    }

    /// The topics `group` consumes: its members' subscriptions, or (with no members) the topics
    /// it has committed offsets on. Empty for a group never seen.
    func topics(ofGroup group: String) -> Set<String> {
        lock.withLock {
            guard let coordinator = coordinators[group] else { return [] }
            let subscribed = coordinator.members.values.reduce(into: Set<String>()) { $0.formUnion($1.subscribedTopics) }
            return subscribed.isEmpty ? Set(coordinator.committedOffsets.keys.map(\.topic)) : subscribed
        }
    }

    /// The committed offset of `partition` in `group`, if any.
    func committedOffset(group: String, partition: TopicPartition) -> Int64? {
        lock.withLock { coordinators[group]?.committedOffsets[partition] }
    }

    /// Stores `offsets` as `group`'s committed offsets (durably, before answering; not at all in
    /// a dry run); refused while the group has members, whose commits would race the reset.
    func resetOffsets(group: String, to offsets: [TopicPartition: Int64], dryRun: Bool,
                      completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        let members = lock.withLock { coordinators[group]?.members.count ?? 0 }
        guard members == 0 else {
            return completion(.failure(ProtocolFailure(.groupNotEmpty, "group \(group) has \(members) member(s); stop its consumers before resetting offsets")))
        }
        guard !offsets.isEmpty, !dryRun else { return completion(.success(())) }
        var batch = RecordBatchBuilder()
        let topics = metadata.state.topics
        for (partition, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            let value = OffsetValue(offset: offset, metadata: "", topicID: topics[partition.topic]?.topicID)
            batch.append(key: Self.encodeKey(group, partition), value: value.encoded, timestamp: clock())
        }
        storage.append(batch.build()) { [self] result in
            completion(result.map { first in
                lock.withLock {
                    var coordinator = coordinators[group] ?? newCoordinator(group)
                    for (partition, offset) in offsets {
                        coordinator.restoreOffset(offset, for: partition)
                        offsetMetadata[group]?[partition] = nil
                        offsetTopicIDs[group, default: [:]][partition] = topics[partition.topic]?.topicID
                        appliedAt[group, default: [:]][partition] = first
                    }
                    coordinators[group] = coordinator
                }
            })
        }
    }

    func close() { storage.close() }

    // MARK: Encoding

    static func partitions(_ list: [Ganglion_V1_TopicPartitions]) -> Set<TopicPartition> {
        Set(list.flatMap { entry in entry.partitions.map { TopicPartition(entry.topic, Int32(clamping: $0)) } })
    }

    static func topicPartitions(_ set: Set<TopicPartition>) -> [Ganglion_V1_TopicPartitions] {
        Dictionary(grouping: set, by: \.topic).sorted { $0.key < $1.key }.map { topic, partitions in
            var entry = Ganglion_V1_TopicPartitions()
            entry.topic = topic
            entry.partitions = partitions.map { UInt32($0.partition) }.sorted()
            return entry
        }
    }

    static func encodeKey(_ group: String, _ partition: TopicPartition) -> [UInt8] {
        Array(group.utf8) + [0] + Array(partition.topic.utf8) + [0] + Array(String(partition.partition).utf8)
    }

    /// The offsets-log key of a group's epoch record: a 0x01 byte (no group name starts with one
    /// that an offset key could be confused with), then the group's name.
    static func encodeEpochKey(_ group: String) -> [UInt8] { [1] + Array(group.utf8) }

    /// The offsets-log key of a group member's record: a 0x02 byte, the group, NUL, the member id.
    static func encodeMemberKey(_ group: String, _ member: String) -> [UInt8] { [2] + Array(group.utf8) + [0] + Array(member.utf8) }

    /// The group and member of a member record's key; nil for any other key.
    static func decodeMemberKey(_ key: [UInt8]) -> (String, String)? {
        guard key.first == 2, let separator = key.firstIndex(of: 0), key.lastIndex(of: 0) == separator else { return nil }
        return (String(decoding: key[1..<separator], as: UTF8.self), String(decoding: key[(separator + 1)...], as: UTF8.self))
    }

    /// The group of an epoch record's key; nil for any other key.
    static func decodeEpochKey(_ key: [UInt8]) -> String? {
        guard key.first == 1, !key.contains(0) else { return nil }
        return String(decoding: key.dropFirst(), as: UTF8.self)
    }

    static func decodeEpoch(_ value: [UInt8]) -> Int32? {
        guard value.count == 4 else { return nil }
        return value.withUnsafeBytes { Int32(bigEndian: $0.loadUnaligned(as: Int32.self)) }
    }

    static func decodeKey(_ key: [UInt8]) -> (String, TopicPartition)? {
        let parts = key.split(separator: 0, omittingEmptySubsequences: false)
        guard parts.count == 3, let number = Int32(String(decoding: parts[2], as: UTF8.self)) else { return nil }
        return (String(decoding: parts[0], as: UTF8.self), TopicPartition(String(decoding: parts[1], as: UTF8.self), number))
    }

    static func code(_ code: GroupError.Code) -> Ganglion_V1_ErrorCode {
        switch code {
        case .fencedMemberEpoch: .fencedMemberEpoch
        case .unknownMemberID: .unknownMemberID
        case .invalidRequest: .malformedRequest
        case .notPartitionOwner: .notPartitionOwner
        }
    }
}
