import ClusterCore
import Foundation
import ZeroMQ

/// How this node's followers take their leaders' batches (DESIGN.md §1: a log, pushed over PUB,
/// repaired by fetch). Every node of a cluster may choose on its own: a leader publishes a
/// partition's replication stream only while a follower of it takes the stream.
public enum ReplicationTransport: String, Sendable, CaseIterable {
    /// REPLICA_FETCH alone: one long-polled fetch chain per followed partition; each fetch
    /// reports what the follower holds durably.
    case fetch
    /// The leader's PUB stream: batches are appended as they arrive, each durable append is
    /// reported with a short REPLICA_FETCH (no data), and a gap, a divergence, a new leader or
    /// silence falls back to fetching until the stream continues the log again.
    case pub
}

/// The replication streams this node follows: one SUB socket on the node's socket loop,
/// connected to the PUB endpoint of every leader it follows over the stream and subscribed to
/// the replication topic (``StreamTopic/replicationFrame(for:)``) of each partition it follows
/// that way. Each message is handed to its partition's follower on the loop's thread.
final class ReplicaStreams: @unchecked Sendable {
    /// Takes one replication message (topic frame, ``Ganglion_V1_StreamBatchHeader``, stored batch).
    typealias Handler = @Sendable ([Frame]) -> Void

    // `routes` and `connected` are only touched on the loop's thread (inside loop commands).
    private var routes: [[UInt8]: Handler] = [:]
    private var connected: Set<String> = []
    private let loop: SocketLoop
    private let subID: SocketLoop.SocketID

    /// A SUB socket on `loop` presenting `credentials` (nil: plain text), following nothing yet.
    init(loop: SocketLoop, credentials: CurveClientCredentials?) throws {
        self.loop = loop
        nonisolated(unsafe) var streams: ReplicaStreams?
        subID = try loop.performAndWait { owner in
            let sub = try owner.makeSocket(.sub)
            if let credentials { try sub.set(credentials.socketOptions) }
            try sub.set([.receiveHighWaterMark(100_000), .maxMessageSize(64 << 20), .reconnectIntervalMax(.seconds(1))])
            owner.watch(sub) { sub, _ in
                for _ in 0..<256 {
                    guard let message = try sub.tryReceiveMultipart(maxFrames: 3), let topic = message.first else { return }
                    streams?.routes[topic.bytes]?(message)
                }
            }
            return owner.id(of: sub)!
        }
        streams = self
    }

    /// Follows `key`'s replication stream from the node whose PUB is `endpoint` (replacing any
    /// earlier handler of `key`); messages go to `handler` on the loop's thread.
    func follow(_ key: TopicPartition, at endpoint: String, handler: @escaping Handler) {
        let topic = StreamTopic.replicationFrame(for: key), subID = self.subID
        loop.execute { owner in
            guard let sub = owner.socket(subID) else { return }
            if self.connected.insert(endpoint).inserted { try? sub.connect(endpoint) }
            if self.routes.updateValue(handler, forKey: topic) == nil { try? sub.subscribe(topic) }
        }
    }

    /// Stops following `key`'s stream.
    func unfollow(_ key: TopicPartition) {
        let topic = StreamTopic.replicationFrame(for: key), subID = self.subID
        loop.execute { owner in
            if self.routes.removeValue(forKey: topic) != nil { try? owner.socket(subID)?.unsubscribe(topic) }
        }
    }

    /// Runs `body` on the loop's thread, in order with the stream's messages.
    func execute(_ body: @escaping @Sendable () -> Void) {
        loop.execute { _ in body() }
    }
}
