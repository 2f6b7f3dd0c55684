import ClusterCore
import EventLog
import Foundation
import GanglionWire

/// The consumer group requests: heartbeats (join, reconcile, leave), offset commits and fetches,
/// descriptions, listing and offset resets — served by the group coordinator (``GroupService``).
struct GroupHandler: RequestHandler {
    unowned let api: NodeAPI
    var kinds: [Ganglion_V1_RequestKind] { [.groupHeartbeat, .offsetCommit, .offsetFetch, .describeGroup, .listGroups, .resetOffsets] }

    func handle(_ request: NodeRequest, respond: @escaping NodeAPI.Respond) throws {
        let requestID = request.requestID
        let groups = api.groups
        switch request.header.kind {
        case .groupHeartbeat:
            respond(try NodeAPI.success(requestID, groups.heartbeat(try api.decode(request.body))), nil)
        case .offsetCommit:
            // Answered once the offsets are durable, from the log's flusher thread: the socket
            // thread never waits for the fsync.
            let api = self.api
            groups.commit(try api.decode(request.body), highWatermark: { api.commitBound($0) }) { result in
                switch result {
                case .success(let response):
                    respond((try? NodeAPI.success(requestID, response)) ?? NodeAPI.error(requestID, .internal, "encoding failed"), nil)
                case .failure(let error):
                    let code = (error as? LogError).map(NodeAPI.code(for:)) ?? .internal
                    NodeMetrics.rejected(code)
                    respond(NodeAPI.error(requestID, code, "the offsets could not be stored: \(error)"), nil)
                }
            }
        case .offsetFetch:
            respond(try NodeAPI.success(requestID, groups.fetchOffsets(try api.decode(request.body))), nil)
        case .describeGroup:
            let body: Ganglion_V1_DescribeGroupRequest = try api.decode(request.body)
            let api = self.api
            let described = groups.describe(body) { api.knownHighWatermark($0) }
            respond(try NodeAPI.success(requestID, described), nil)
        case .listGroups:
            let _: Ganglion_V1_ListGroupsRequest = try api.decode(request.body)
            respond(try NodeAPI.success(requestID, groups.list()), nil)
        default:
            respond(try NodeAPI.success(requestID, api.resetOffsets(try api.decode(request.body))), nil)
        }
    }
}
