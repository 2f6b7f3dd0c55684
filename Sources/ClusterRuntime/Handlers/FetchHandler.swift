import ClusterCore
import EventLog
import Foundation
import GanglionWire
import ZeroMQ

/// FETCH (whole batches below the high watermark, long poll when there are none yet) and
/// LIST_OFFSETS (by position or time).
struct FetchHandler: RequestHandler {
    unowned let api: NodeAPI
    var kinds: [Ganglion_V1_RequestKind] { [.fetch, .listOffsets] }

    func handle(_ request: NodeRequest, respond: @escaping NodeAPI.Respond) throws {
        switch request.header.kind {
        case .fetch: try api.fetch(request.header, try api.decode(request.body), respond: respond)
        default: respond(try NodeAPI.success(request.requestID, api.listOffsets(try api.decode(request.body))), nil)
        }
    }
}

extension NodeAPI {
    /// Answers a fetch now, or — when it found nothing and may wait — once records arrive or
    /// its wait is over.
    func fetch(_ header: Ganglion_V1_RequestHeader, _ request: Ganglion_V1_FetchRequest, respond: @escaping Respond) throws {
        let (key, _) = try partition(request.topic, request.partition)
        // A replicated partition is read from its leader (it alone knows the high watermark).
        if let state = placement(key) { _ = try leadership(key, state: state) }
        let frames = try fetchNow(header, request)
        guard frames.last?.isEmpty == true, request.maxWaitMs > 0 else {
            respond(frames, nil)
            return
        }
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(min(request.maxWaitMs, 60_000))))
        let waiters = fetchWaiters
        @Sendable func attempt(expired: Bool) {
            do {
                let again = try fetchNow(header, request)
                // Still nothing (the append ended below the fetch offset): wait on, until the deadline.
                if !expired, again.last?.isEmpty == true, waiters.park(key, until: deadline, retry: attempt) { return }
                respond(again, nil)
            } catch let error as LogError {
                respond(Self.error(header.requestID, Self.code(for: error), error.description), nil)
            } catch {
                respond(Self.error(header.requestID, .internal, "\(error)"), nil)
            }
        }
        if !waiters.park(key, until: deadline, retry: attempt) { respond(frames, nil) }
    }

    func fetchNow(_ header: Ganglion_V1_RequestHeader, _ request: Ganglion_V1_FetchRequest) throws -> [Frame] {
        let (_, log) = try partition(request.topic, request.partition)
        let maxBytes = Int(min(max(request.maxBytes, 1), 64 << 20))
        // Only committed records are served (below the high watermark: durable, and on a cluster
        // replicated to the in-sync replicas); `committed_only` is always in force.
        let read = try log.read(from: request.offset, maxBytes: maxBytes, upTo: log.highWatermark)
        var response = Ganglion_V1_FetchResponse()
        response.highWatermark = read.highWatermark
        response.logStartOffset = read.logStartOffset
        response.logEndOffset = read.logEndOffset
        response.nextOffset = read.nextOffset
        return try Self.success(header.requestID, response) + [Frame(read.bytes)]
    }

}
