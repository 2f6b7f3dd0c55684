/// The cluster metadata as a pure state machine: records from the metadata log are checked with
/// ``validate(_:)`` before they are appended and applied in log order with ``apply(_:)``, so
/// every node that replays the log reaches the same state.
public struct MetadataState: Sendable, Hashable, Codable {
    /// The topics, by name.
    public private(set) var topics: [String: TopicConfiguration] = [:]
    /// The current epoch of every idempotent producer id issued.
    public private(set) var producerEpochs: [Int64: Int16] = [:]
    /// The id the next new producer gets.
    public var nextProducerID: Int64 { (producerEpochs.keys.max() ?? 0) + 1 }
    /// The latest target assignment of every consumer group.
    public private(set) var groupAssignments: [String: GroupAssignment] = [:]
    /// How many records have been applied (the next metadata offset).
    public private(set) var appliedCount: Int64 = 0
    /// The nodes that ever registered, by id.
    public internal(set) var nodes: [String: ClusterNode] = [:]
    /// Where each topic's partitions live and who leads them, by topic (a cluster of several;
    /// on a cluster of one a topic has no entry: its node holds and leads every partition).
    public internal(set) var partitions: [String: [PartitionState]] = [:]
    /// The ACLs, principals and HTTP tokens.
    public internal(set) var security = SecurityState()

    /// An empty state.
    public init() {}

    private enum CodingKeys: String, CodingKey {
        case topics, producerEpochs, groupAssignments, appliedCount, nodes, partitions, security
    }

    /// Decodes a state (snapshots written before nodes, partitions or security were recorded have none).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        topics = try container.decode([String: TopicConfiguration].self, forKey: .topics)
        producerEpochs = try container.decode([Int64: Int16].self, forKey: .producerEpochs)
        groupAssignments = try container.decode([String: GroupAssignment].self, forKey: .groupAssignments)
        appliedCount = try container.decode(Int64.self, forKey: .appliedCount)
        nodes = try container.decodeIfPresent([String: ClusterNode].self, forKey: .nodes) ?? [:]
        partitions = try container.decodeIfPresent([String: [PartitionState]].self, forKey: .partitions) ?? [:]
        security = try container.decodeIfPresent(SecurityState.self, forKey: .security) ?? SecurityState()
    }

    /// Whether `record` may be appended now; the error names what is wrong.
    public func validate(_ record: MetadataRecord) throws(MetadataError) {
        switch record {
        case .topicCreated(let name, let configuration):
            // The cluster's own topics (``GroupPlacement/internalTopics``) pass; users' cannot
            // take their names (their requests are checked with ``checkName(_:)`` before).
            if !GroupPlacement.internalTopics.contains(name) { try Self.checkName(name) }
            guard topics[name] == nil else {
                throw MetadataError(code: .topicExists, message: "topic \(name) already exists")
            }
            guard (1...TopicConfiguration.maxPartitions).contains(configuration.partitions) else {
                throw MetadataError(code: .invalidConfiguration,
                                    message: "topic \(name): partitions must be 1…\(TopicConfiguration.maxPartitions), got \(configuration.partitions)")
            }
            guard configuration.replicationFactor >= 1 else {
                throw MetadataError(code: .invalidConfiguration, message: "topic \(name): replication factor must be at least 1")
            }
            if let retention = configuration.retentionMilliseconds, retention <= 0 {
                throw MetadataError(code: .invalidConfiguration, message: "topic \(name): retention must be positive, or unset to keep forever")
            }
            if let bytes = configuration.retentionBytes, bytes <= 0 {
                throw MetadataError(code: .invalidConfiguration, message: "topic \(name): retention bytes must be positive, or unset")
            }
        case .topicDeleted(let name):
            guard topics[name] != nil else { throw MetadataError(code: .unknownTopic, message: "topic \(name) does not exist") }
        case .producerInitialized(let id, let epoch):
            let current = producerEpochs[id]
            // An epoch never wraps: past Int16.max the producer gets a new id instead.
            guard (current == nil && id == nextProducerID && epoch == 0) || (current.map { $0 < Int16.max && epoch == $0 + 1 } ?? false) else {
                throw MetadataError(code: .invalidConfiguration, message: "producer \(id) epoch \(epoch) does not follow the issued ids and epochs")
            }
        case .groupAssignment(let group, let assignment):
            if let current = groupAssignments[group], current.epoch >= assignment.epoch {
                throw MetadataError(code: .invalidConfiguration,
                                    message: "group \(group): assignment epoch \(assignment.epoch) is not after the recorded \(current.epoch)")
            }
        case .nodeRegistered, .nodeFenced, .nodeShutdown:
            try validateMembership(record)
        case .topicPlaced(let name, let configuration, let placed):
            try validate(.topicCreated(name: name, configuration: configuration))
            guard placed.count == Int(configuration.partitions) else {
                throw MetadataError(code: .invalidConfiguration, message: "topic \(name): \(placed.count) partitions placed, \(configuration.partitions) configured")
            }
            for state in placed {
                try state.check()
                guard state.replicas.count == Int(configuration.replicationFactor) else {
                    throw MetadataError(code: .invalidConfiguration,
                                        message: "topic \(name): \(state.replicas.count) replicas placed, replication factor \(configuration.replicationFactor)")
                }
            }
        case .partitionChanged(let change):
            guard let states = partitions[change.topic], change.partition >= 0, Int(change.partition) < states.count else {
                throw MetadataError(code: .unknownTopic, message: "topic \(change.topic) has no placed partition \(change.partition)")
            }
            try states[Int(change.partition)].checkSuccessor(change.state)
        case .aclAdded, .aclRemoved, .principalAdded, .principalRemoved, .tokenCreated, .tokenRevoked:
            do { try security.validate(record) } catch { throw MetadataError(code: .invalidSecurityChange, message: error.description) }
        }
    }

    /// The record that initialises a producer: a new id at epoch 0 (`resuming` nil), the next
    /// epoch of an issued id (fencing its older instances), or — when that id's epochs are
    /// exhausted — a new id, as Kafka does, so a long-lived producer is never fenced for good.
    public func producerInitialization(resuming id: Int64?) throws(MetadataError) -> MetadataRecord {
        guard let id else { return .producerInitialized(id: nextProducerID, epoch: 0) }
        guard let epoch = producerEpochs[id] else {
            throw MetadataError(code: .invalidConfiguration, message: "producer id \(id) was never issued; ask for a new one")
        }
        return epoch == Int16.max ? .producerInitialized(id: nextProducerID, epoch: 0) : .producerInitialized(id: id, epoch: epoch + 1)
    }

    /// Applies a validated record (records that no longer validate, e.g. replayed twice, are ignored).
    public mutating func apply(_ record: MetadataRecord) {
        appliedCount += 1
        guard (try? validate(record)) != nil else { return }
        switch record {
        case .topicCreated(let name, let configuration): topics[name] = configuration
        case .topicDeleted(let name):
            topics[name] = nil
            partitions[name] = nil
        case .producerInitialized(let id, let epoch): producerEpochs[id] = epoch
        case .groupAssignment(let group, let assignment): groupAssignments[group] = assignment
        case .nodeRegistered, .nodeFenced, .nodeShutdown: applyMembership(record)
        case .topicPlaced(let name, let configuration, let placed):
            topics[name] = configuration
            partitions[name] = placed
        case .partitionChanged(let change): partitions[change.topic]?[Int(change.partition)] = change.state
        case .aclAdded, .aclRemoved, .principalAdded, .principalRemoved, .tokenCreated, .tokenRevoked: security.apply(record)
        }
    }

    /// Kafka's topic naming rules: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`, and not
    /// starting with `__` (reserved for internal topics).
    public static func checkName(_ name: String) throws(MetadataError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-")
        }
        guard !name.isEmpty, name.utf8.count <= 249, allowed, name != ".", name != ".." else {
            throw MetadataError(code: .invalidTopicName,
                                message: "topic name \"\(name)\" must be 1–249 characters of a–z, A–Z, 0–9, '.', '_' or '-'")
        }
        guard !name.hasPrefix("__") else {
            throw MetadataError(code: .invalidTopicName, message: "topic names starting with \"__\" are reserved for internal topics")
        }
    }
}
