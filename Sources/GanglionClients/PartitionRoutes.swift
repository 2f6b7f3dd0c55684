import ClusterCore
import Foundation
import GanglionWire

/// Where each partition's leader is, as the client last learned from metadata: its node's request
/// and stream endpoints and its leader epoch. A route is forgotten when the node answers
/// `NOT_LEADER` or `FENCED_LEADER_EPOCH` or cannot be reached, and learned again from any node.
public final class PartitionRoutes: @unchecked Sendable {
    /// A partition leader as the client reaches it.
    public struct Route: Sendable, Hashable {
        /// The leader's node id.
        public var node: String
        /// Its request endpoint (nil: the node the client was opened on).
        public var api: String?
        /// Its stream (PUB) endpoint.
        public var pub: String
        /// The leader epoch the route was learned at.
        public var leaderEpoch: Int32
    }

    // Guarded by `lock`.
    private let lock = NSLock()
    private var leaders: [TopicPartition: Route] = [:]
    private var nodes: [String: Ganglion_V1_NodeMetadata] = [:]
    private var lookups: [String: Task<Void, any Error>] = [:]

    /// The route of a partition, if known.
    public func route(_ topic: String, _ partition: UInt32) -> Route? {
        lock.withLock { leaders[TopicPartition(topic, Int32(partition))] }
    }

    /// Forgets the route of a partition (its leader refused or could not be reached).
    public func forget(_ topic: String, _ partition: UInt32) {
        _ = lock.withLock { leaders.removeValue(forKey: TopicPartition(topic, Int32(partition))) }
    }

    /// The lookup of `topic`'s routes under way, if any: callers that miss a route while one is
    /// asked for wait for that answer instead of each asking again (a producer starting on many
    /// partitions of a topic at once asked once per partition).
    func runningLookup(_ topic: String) -> Task<Void, any Error>? {
        lock.withLock { lookups[topic] }
    }

    /// Makes `lookup` the one under way for `topic`, unless another already is: returns the one
    /// to wait for.
    func share(_ lookup: Task<Void, any Error>, of topic: String) -> Task<Void, any Error> {
        lock.withLock {
            if let running = lookups[topic] { return running }
            lookups[topic] = lookup
            return lookup
        }
    }

    /// `lookup` of `topic` ended (the next miss asks again).
    func lookupEnded(_ topic: String, _ lookup: Task<Void, any Error>) {
        lock.withLock {
            if lookups[topic] == lookup { lookups[topic] = nil }
        }
    }

    /// The request endpoints of every node known, to ask for metadata when the first fails.
    var knownEndpoints: [String] { lock.withLock { nodes.values.map(\.apiEndpoint).filter { !$0.isEmpty }.sorted() } }

    /// Learns the leaders in a metadata answer; returns the other nodes' request endpoints.
    /// The answering node is `metadata.nodes.first`: partitions it leads route to the client's own connection.
    @discardableResult
    func learn(_ metadata: Ganglion_V1_MetadataResponse, answeredBy bootstrap: Bool) -> [String] {
        lock.withLock {
            for node in metadata.nodes { nodes[node.id] = node }
            let answering = metadata.nodes.first?.id
            for topic in metadata.topics {
                for partition in topic.partitions {
                    let key = TopicPartition(topic.name, Int32(partition.partition))
                    guard !partition.leader.isEmpty, let node = nodes[partition.leader] else {
                        leaders[key] = nil
                        continue
                    }
                    // A cluster of one: the client's own connection. Several: the leader's
                    // endpoint, on a connection that fails fast when the node is down.
                    let own = bootstrap && partition.leader == answering && metadata.nodes.count == 1
                    // Of several answers, the newest leader epoch wins.
                    if let known = leaders[key], known.leaderEpoch > partition.leaderEpoch { continue }
                    leaders[key] = Route(node: node.id, api: own ? nil : node.apiEndpoint, pub: node.pubEndpoint, leaderEpoch: partition.leaderEpoch)
                }
            }
            return nodes.values.map(\.apiEndpoint).filter { !$0.isEmpty }
        }
    }
}

extension GanglionClient {
    /// The leader of a partition (from the routes, or fresh metadata when unknown or `refresh`).
    public func leader(of topic: String, partition: UInt32, refresh: Bool = false) async throws -> PartitionRoutes.Route {
        if !refresh, let route = routes.route(topic, partition) { return route }
        if refresh {
            try await lookUpRoutes(topic)
        } else if let running = routes.runningLookup(topic) {
            try await running.value
        } else {
            let lookup = routes.share(Task { try await self.lookUpRoutes(topic) }, of: topic)
            defer { routes.lookupEnded(topic, lookup) }
            try await lookup.value
        }
        guard let route = routes.route(topic, partition) else {
            throw GanglionError(code: .notLeader, message: "\(topic)-\(partition) has no leader now (an election is under way, or no in-sync replica is alive); retry",
                                retryAfterMilliseconds: 100)
        }
        return route
    }

    /// Learns `topic`'s routes; a topic just created may not have reached the node asked yet: it
    /// is asked again for a moment.
    private func lookUpRoutes(_ topic: String) async throws {
        let patience = ContinuousClock.now + .seconds(2)
        while true {
            do {
                try await refreshRoutes(topics: [topic])
                return
            } catch let error as GanglionError where error.code == .unknownTopic && ContinuousClock.now < patience {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Asks for the metadata of `topics` and learns their leaders. On a cluster every known node
    /// is asked at once and, per partition, the answer with the highest leader epoch wins: a node
    /// cut off from the controller still names itself leader under an older epoch. Before any
    /// node is known, the node the client was opened on is asked.
    public func refreshRoutes(topics: [String]) async throws {
        var asked = Ganglion_V1_MetadataRequest()
        asked.topics = topics
        let request = asked
        let known = routes.knownEndpoints
        // A cluster of one (or nothing learned yet): the client's own connection, as always.
        let targets: [String?] = known.count <= 1 ? [nil] : known.map(Optional.some)
        let answers: [Result<Ganglion_V1_MetadataResponse, any Error>] = await withTaskGroup(of: Result<Ganglion_V1_MetadataResponse, any Error>.self) { group in
            for node in targets {
                group.addTask {
                    do {
                        let frames = try await self.call(.metadata, request, timeout: .seconds(1), to: node)
                        guard let first = frames.first else { throw GanglionError(code: .malformedRequest, message: "a metadata answer without a body") }
                        return .success(try first.withUnsafeBytes { try Ganglion_V1_MetadataResponse(inPlace: $0) })
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var answers: [Result<Ganglion_V1_MetadataResponse, any Error>] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        var learned = false
        var unknown: String?
        for answer in answers {
            guard case .success(let metadata) = answer else { continue }
            connect(to: routes.learn(metadata, answeredBy: known.count <= 1))
            learned = true
            if unknown == nil, let name = metadata.unknownTopics.first { unknown = name } else if metadata.unknownTopics.isEmpty { unknown = nil }
        }
        if let unknown, learned, answers.allSatisfy({ (try? $0.get())?.unknownTopics.isEmpty == false }) {
            throw GanglionError(code: .unknownTopic, message: "topic \(unknown) does not exist")
        }
        if learned { return }
        for case .failure(let error) in answers { throw error }
        throw GanglionError(code: .timeout, message: "no node answered a metadata request")
    }

    /// Whether an error means the request went to a node that does not lead the partition (now):
    /// the route is stale; nothing was stored.
    static func isStaleRoute(_ error: any Error) -> Bool {
        guard let error = error as? GanglionError else { return false }
        return error.code == .notLeader || error.code == .fencedLeaderEpoch
    }
}
