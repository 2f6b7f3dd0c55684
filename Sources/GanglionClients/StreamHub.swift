import Foundation
import ZeroMQ

/// The live streams a client follows from one node's PUB endpoint: one SUB socket on the client's
/// socket loop, subscribed to exactly the partitions followed, handing each stream message to the
/// streams of its partition. However many partitions a consumer follows, it holds one connection
/// per node and no thread of its own.
final class StreamHub: @unchecked Sendable {
    // `routes` and `timers` are only touched on the loop's thread (inside loop commands), which
    // makes the class safe to share; `nextRoute` is guarded by `lock`.
    private var routes: [[UInt8]: [UInt64: StreamDelivery]] = [:]
    private var timers: [UInt64: SocketLoop.TimerID] = [:]
    private let lock = NSLock()
    private var nextRoute: UInt64 = 0
    /// The client's socket loop, which owns the SUB socket.
    let loop: SocketLoop
    private let subID: SocketLoop.SocketID

    /// A SUB socket on `loop` connected to `pubEndpoint`, subscribed to nothing yet.
    init(loop: SocketLoop, pubEndpoint: String, credentials: CurveClientCredentials? = nil) throws {
        self.loop = loop
        nonisolated(unsafe) var hub: StreamHub?
        subID = try loop.performAndWait { owner in
            let sub = try owner.makeSocket(.sub)
            if let credentials { try sub.set(credentials.socketOptions) }
            try sub.set(.receiveHighWaterMark(100_000))
            try sub.connect(pubEndpoint)
            owner.watch(sub) { sub, _ in
                for _ in 0..<256 {
                    guard let message = try sub.tryReceiveMultipart(maxFrames: 3), let topic = message.first else { return }
                    hub?.route(topic.bytes, message)
                }
            }
            return owner.id(of: sub)!
        }
        hub = self
    }

    /// Hands a stream message to every stream of its partition (on the loop's thread).
    private func route(_ topic: [UInt8], _ message: [Frame]) {
        guard let streams = routes[topic] else { return }
        for delivery in streams.values { delivery.yield(.batch(message)) }
    }

    /// Follows the stream `topic` (a ``StreamTopic`` frame) into `delivery`, with a `.tick`
    /// every `tickEvery` (so a gap at the end is found); returns the route's id for ``remove``.
    func add(topic: [UInt8], delivery: StreamDelivery, tickEvery: Duration) throws -> UInt64 {
        let id: UInt64 = lock.withLock {
            nextRoute += 1
            return nextRoute
        }
        let subID = self.subID
        try loop.performAndWait { owner in
            if self.routes[topic, default: [:]].isEmpty { try owner.socket(subID)?.subscribe(topic) }
            self.routes[topic, default: [:]][id] = delivery
            func tick(_ owner: SocketLoop.Owner) {
                guard self.routes[topic]?[id] != nil else { return }
                delivery.yield(.tick)
                self.timers[id] = owner.schedule(after: tickEvery) { tick($0) }
            }
            tick(owner)
        }
        return id
    }

    /// Stops following: the route and its timer go, and the subscription when it was the last.
    func remove(topic: [UInt8], id: UInt64) {
        let subID = self.subID
        _ = loop.execute { owner in
            guard self.routes[topic]?.removeValue(forKey: id) != nil else { return }
            if let timer = self.timers.removeValue(forKey: id) { owner.cancel(timer) }
            if self.routes[topic]?.isEmpty == true {
                self.routes[topic] = nil
                try? owner.socket(subID)?.unsubscribe(topic)
            }
        }
    }
}

/// A client's stream hubs, one per PUB endpoint.
final class StreamHubs: @unchecked Sendable {
    // `hubs` is guarded by `lock`.
    private let lock = NSLock()
    private var hubs: [String: StreamHub] = [:]
    private let credentials: CurveClientCredentials?

    /// Hubs whose SUB sockets present `credentials` (nil: plain text).
    init(credentials: CurveClientCredentials?) { self.credentials = credentials }

    /// The hub for `pubEndpoint` on `loop`, made on first use.
    func hub(for pubEndpoint: String, loop: SocketLoop) throws -> StreamHub {
        try lock.withLock {
            if let hub = hubs[pubEndpoint] { return hub }
            let hub = try StreamHub(loop: loop, pubEndpoint: pubEndpoint, credentials: credentials)
            hubs[pubEndpoint] = hub
            return hub
        }
    }
}
