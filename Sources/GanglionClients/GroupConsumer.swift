import AsyncAlgorithms
import ClusterCore
import Foundation
import GanglionWire

/// A member of a consumer group: it joins, follows the partitions the group assigns to it from
/// their committed offsets, hands records over with backpressure, and gives partitions up when
/// the group rebalances (KIP-848 style: the node moves a partition only after this member
/// stopped and reported it). Commit what you have processed with ``commit(_:)``, or let the
/// ``CommitPolicy/automatic`` policy commit what the application finished; what was not committed
/// is delivered again to the partition's next owner (at-least-once).
public final class GroupConsumer: Sendable {
    /// The group.
    public let group: String
    /// The topics consumed.
    public let topics: [String]
    private let client: GanglionClient
    private let channel = AsyncThrowingChannel<[DeliveredRecord], any Error>()
    private let state: ConsumerState
    private let heartbeats: Task<Void, Never>
    /// When this member commits.
    public let commitPolicy: CommitPolicy
    let processed: ProcessedPositions?

    /// Where a partition without a committed offset starts, and where a position outside the
    /// log goes (Kafka's `auto.offset.reset`).
    public let resetPolicy: OffsetResetPolicy

    /// Joins `group` for `topics` through `client`, committing by `commitPolicy`, starting
    /// uncommitted partitions (and repositioning out-of-range ones) by `resetPolicy`. `onRevoked`
    /// runs when partitions are taken away in a rebalance, after their streams stopped and before
    /// the group hears they are released: finish work on them there and return the offsets to
    /// commit for them, so their next owner never overlaps with this one and resumes right after.
    /// A partition whose position cannot be reset (`.none`) ends ``records`` with the error.
    public convenience init(client: GanglionClient, group: String, topics: [String], commitPolicy: CommitPolicy = .manual,
                            resetPolicy: OffsetResetPolicy = .earliest,
                            onRevoked: (@Sendable (Set<TopicPartition>) async -> [TopicPartition: Int64])? = nil) {
        self.init(client: client, group: group, topics: topics, commitPolicy: commitPolicy, resetPolicy: resetPolicy, onRevoked: onRevoked, deliver: nil)
    }

    /// The same consumer, where `deliver`, when given, takes each partition's batches from that
    /// partition's own follower instead of ``batches``: a partition whose `deliver` waits (its
    /// shard is full) holds back only its own stream, never another partition's (issue 14,
    /// guarantee 3). ``batches`` then carries only the end of the stream and its errors.
    /// `onAssigned` is told the partitions the group newly assigns to this member as soon as the
    /// coordinator's answer lists them (before their streams start).
    package init(client: GanglionClient, group: String, topics: [String], commitPolicy: CommitPolicy = .manual,
         resetPolicy: OffsetResetPolicy = .earliest,
         onRevoked: (@Sendable (Set<TopicPartition>) async -> [TopicPartition: Int64])?,
         onAssigned: (@Sendable (Set<TopicPartition>) async -> Void)? = nil,
         deliver: (@Sendable ([DeliveredRecord]) async -> Void)?) {
        self.resetPolicy = resetPolicy
        self.client = client
        self.group = group
        self.topics = topics
        self.commitPolicy = commitPolicy
        let processed: ProcessedPositions? = commitPolicy == .manual ? nil : ProcessedPositions()
        self.processed = processed
        let state = ConsumerState()
        self.state = state
        let channel = self.channel
        let interval: Duration? = if case .automatic(let every) = commitPolicy { every } else { nil }
        heartbeats = Task {
            await state.run(client: client, group: group, topics: topics, channel: channel, processed: processed, commitEvery: interval,
                            resetPolicy: resetPolicy, onRevoked: onRevoked, onAssigned: onAssigned, deliver: deliver)
        }
    }

    /// The records of the partitions this member holds, in batches as they come (in offset order
    /// per partition); iterating slowly slows the partitions' streams (the channel holds nothing).
    public var batches: Batches { Batches(channel: channel, processed: processed) }

    /// The same records one at a time: `for try await record in consumer.records`.
    public var records: Records { Records(channel: channel, processed: processed) }

    /// Commits `record` as processed: the group resumes after it.
    public func commit(_ record: DeliveredRecord) async throws {
        try await commit(topic: record.topic, partition: record.partition, offset: record.record.offset + 1)
    }

    /// Commits `offset` of a partition: the group resumes there (every record below is processed).
    public func commit(topic: String, partition: UInt32, offset: Int64) async throws {
        let (member, epoch) = await state.identity
        var request = Ganglion_V1_OffsetCommitRequest()
        request.group = group
        request.memberID = member
        request.memberEpoch = epoch
        var entry = Ganglion_V1_PartitionOffset()
        entry.topic = topic
        entry.partition = partition
        entry.offset = offset
        request.offsets = [entry]
        let response = try await client.call(.offsetCommit, request, reply: Ganglion_V1_OffsetCommitResponse.self).0
        if let refused = response.errors.first(where: { $0.error != .none }) {
            throw GanglionError(code: refused.error, message: refused.message)
        }
    }

    /// The partitions this member follows now.
    public var assignment: Set<TopicPartition> {
        get async { await state.owned }
    }

    /// Commits what was processed (automatic policy), leaves the group (its partitions move at
    /// once) and stops.
    public func close() async {
        heartbeats.cancel()
        await heartbeats.value
        if let processed { await state.commitProcessed(processed, client: client, group: group, only: nil) }
        await state.leave(client: client, group: group)
        channel.finish()
    }

    /// Stops heartbeating and following, commits nothing and leaves the group: its partitions
    /// move at once, their next owner resuming from the last commit. For a member that failed and
    /// is started again in its place (waiting out its own session would stall its partitions).
    public func leaveWithoutCommitting() async {
        heartbeats.cancel()
        await heartbeats.value
        await state.leave(client: client, group: group)
        channel.finish()
    }

    /// Stops heartbeating without leaving, as a crashed member would: the node moves its
    /// partitions when its session expires. For tests and failure drills.
    public func abandon() async {
        heartbeats.cancel()
        await heartbeats.value
        await state.stopAll()
        channel.finish()
    }
}

/// The member's identity and its partition followers, serialised by the actor.
actor ConsumerState {
    /// The member id this client chose (KIP-1082): a join whose response was lost is retried
    /// with it, so the coordinator sees the same member, not an orphan beside it.
    private var memberID = ""
    /// Whether the coordinator answered this member's join.
    private var joined = false
    private var epoch: Int32 = 0
    private var followers: [TopicPartition: (task: Task<Void, Never>, stream: PartitionStream)] = [:]

    var identity: (String, Int32) { (memberID, epoch) }
    var owned: Set<TopicPartition> { Set(followers.keys) }

    func run(client: GanglionClient, group: String, topics: [String], channel: AsyncThrowingChannel<[DeliveredRecord], any Error>,
             processed: ProcessedPositions?, commitEvery: Duration?, resetPolicy: OffsetResetPolicy,
             onRevoked: (@Sendable (Set<TopicPartition>) async -> [TopicPartition: Int64])?,
             onAssigned: (@Sendable (Set<TopicPartition>) async -> Void)? = nil,
             deliver: (@Sendable ([DeliveredRecord]) async -> Void)? = nil) async {
        var lastCommit = ContinuousClock.now
        while !Task.isCancelled {
            do {
                var request = Ganglion_V1_GroupHeartbeatRequest()
                request.group = group
                if memberID.isEmpty { memberID = "\(group)-" + UUID().uuidString.lowercased() }
                request.memberID = memberID
                request.memberEpoch = joined ? epoch : 0
                if !joined { request.subscribedTopics = topics }
                request.owned = Self.encode(owned)
                let response = try await client.call(.groupHeartbeat, request, reply: Ganglion_V1_GroupHeartbeatResponse.self).0
                memberID = response.memberID
                joined = true
                epoch = response.memberEpoch
                let assignment = Set(response.assignment.flatMap { entry in entry.partitions.map { TopicPartition(entry.topic, Int32($0)) } })
                let revoked = owned.subtracting(assignment)
                for partition in revoked { stop(partition) }
                if !revoked.isEmpty, let onRevoked {
                    await commit(await onRevoked(revoked), client: client, group: group)
                }
                if let processed, !revoked.isEmpty {
                    // What was finished on a partition given up is committed before it moves.
                    await commitProcessed(processed, client: client, group: group, only: revoked)
                    for partition in revoked { processed.forget(partition) }
                }
                if let processed, let commitEvery, ContinuousClock.now - lastCommit >= commitEvery {
                    await commitProcessed(processed, client: client, group: group, only: owned)
                    lastCommit = .now
                }
                let added = assignment.subtracting(owned)
                if !added.isEmpty {
                    await onAssigned?(added)
                    let committed = try await committedOffsets(client: client, group: group, partitions: added)
                    for partition in added {
                        let start: Int64
                        if let offset = committed[partition] {
                            start = offset
                        } else {
                            start = try await client.resetOffset(topic: partition.topic, partition: UInt32(partition.partition), policy: resetPolicy,
                                                                 why: "group \(group) has no committed offset for \(partition)")
                        }
                        // The live stream of the partition's leader (fetch follows a new leader by itself).
                        let pubEndpoint = try await client.leader(of: partition.topic, partition: UInt32(partition.partition)).pub
                        let stream = try PartitionStream(client: client, pubEndpoint: pubEndpoint, topic: partition.topic,
                                                         partition: UInt32(partition.partition), from: start, reset: resetPolicy)
                        let task = Task {
                            do {
                                var records = stream.records().makeAsyncIterator()
                                while let batch = try await records.nextBatch() {
                                    if let deliver { await deliver(batch) } else { await channel.send(batch) }
                                }
                            } catch is CancellationError {
                            } catch {
                                // Never a silent stall: the reader gets what ended the partition's
                                // stream (one outside its log, a topic gone; passing failures are
                                // waited out by the stream itself).
                                channel.fail(error)
                            }
                        }
                        followers[partition] = (task, stream)
                    }
                }
                // Report a revocation at once; otherwise heartbeat at the node's pace.
                let pause = revoked.isEmpty ? Duration.milliseconds(Int(response.heartbeatIntervalMs == 0 ? 1000 : response.heartbeatIntervalMs) / 2) : .milliseconds(5)
                try await Task.sleep(for: pause)
            } catch let error as GanglionError where error.code == .fencedMemberEpoch || error.code == .unknownMemberID {
                // Fenced: drop everything and rejoin at epoch 0 with the same member id (KIP-848):
                // a coordinator that still knows the member answers with its partitions, instead
                // of leaving them held by the member's old self until its session ends.
                stopAll()
                joined = false
                epoch = 0
            } catch is CancellationError {
                break
            } catch {
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Commits the processed positions (of `only`, when given); refusals (a partition already
    /// moved) are dropped: its next owner redelivers from the last commit.
    func commitProcessed(_ processed: ProcessedPositions, client: GanglionClient, group: String, only: Set<TopicPartition>?) async {
        let pending = processed.pending(in: only)
        processed.committed(await commit(pending, client: client, group: group))
    }

    /// Commits `offsets` with this member's identity; returns those accepted. Refusals (a
    /// partition already moved) are dropped: the next owner redelivers from the last commit.
    @discardableResult
    func commit(_ offsets: [TopicPartition: Int64], client: GanglionClient, group: String) async -> [TopicPartition: Int64] {
        guard !offsets.isEmpty, joined else { return [:] }
        var request = Ganglion_V1_OffsetCommitRequest()
        request.group = group
        request.memberID = memberID
        request.memberEpoch = epoch
        request.offsets = offsets.sorted { $0.key < $1.key }.map { partition, offset in
            var entry = Ganglion_V1_PartitionOffset()
            entry.topic = partition.topic
            entry.partition = UInt32(partition.partition)
            entry.offset = offset
            return entry
        }
        guard let response = try? await client.call(.offsetCommit, request, reply: Ganglion_V1_OffsetCommitResponse.self).0 else { return [:] }
        var accepted: [TopicPartition: Int64] = [:]
        for outcome in response.errors where outcome.error == .none {
            let partition = TopicPartition(outcome.topic, Int32(outcome.partition))
            accepted[partition] = offsets[partition]
        }
        return accepted
    }

    func leave(client: GanglionClient, group: String) async {
        stopAll()
        guard joined else { return }
        var request = Ganglion_V1_GroupHeartbeatRequest()
        request.group = group
        request.memberID = memberID
        request.memberEpoch = -1
        _ = try? await client.call(.groupHeartbeat, request)
        memberID = ""
        joined = false
    }

    func stopAll() {
        for partition in followers.keys { stop(partition) }
    }

    private func stop(_ partition: TopicPartition) {
        guard let follower = followers.removeValue(forKey: partition) else { return }
        follower.task.cancel()
        follower.stream.close()
    }

    private func committedOffsets(client: GanglionClient, group: String, partitions: Set<TopicPartition>) async throws -> [TopicPartition: Int64] {
        var request = Ganglion_V1_OffsetFetchRequest()
        request.group = group
        request.partitions = Self.encode(partitions)
        let response = try await client.call(.offsetFetch, request, reply: Ganglion_V1_OffsetFetchResponse.self).0
        return Dictionary(response.offsets.map { (TopicPartition($0.topic, Int32($0.partition)), $0.offset) }) { $1 }
    }

    static func encode(_ partitions: Set<TopicPartition>) -> [Ganglion_V1_TopicPartitions] {
        Dictionary(grouping: partitions, by: \.topic).sorted { $0.key < $1.key }.map { topic, members in
            var entry = Ganglion_V1_TopicPartitions()
            entry.topic = topic
            entry.partitions = members.map { UInt32($0.partition) }.sorted()
            return entry
        }
    }
}
