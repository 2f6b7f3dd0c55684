import Foundation

/// The HTTP produce requests a node serves at once: beyond `limit` a request is answered 429
/// with `Retry-After` (the HTTP form of `BUSY`), so a flood of HTTP clients queues nothing
/// without bound. The ZeroMQ path's window is per client; HTTP clients have no stable identity,
/// so this one is per node.
final class IngestWindow: @unchecked Sendable {
    /// The most requests in flight.
    let limit: Int
    // `count` is guarded by `lock`.
    private let lock = NSLock()
    private var count = 0

    init(limit: Int) { self.limit = limit }

    /// Counts a request in; false when `limit` are already in flight.
    func enter() -> Bool {
        lock.withLock {
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    /// Counts a request out.
    func leave() { lock.withLock { count -= 1 } }

    /// Runs `body` inside the window, or throws ``HTTPIngestError/Code/busy``.
    func run<T>(_ body: () async throws -> T) async throws -> T {
        guard enter() else {
            NodeMetrics.busy()
            throw HTTPIngestError(.busy, "\(limit) HTTP produce requests are already waiting for acknowledgement on this node; retry after the Retry-After delay",
                                  retryAfterSeconds: 1)
        }
        defer { leave() }
        return try await body()
    }
}
