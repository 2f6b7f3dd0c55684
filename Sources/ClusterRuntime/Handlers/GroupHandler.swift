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
        let api = self.api
        switch request.header.kind {
        case .groupHeartbeat:
            let body: Ganglion_V1_GroupHeartbeatRequest = try api.decode(request.body)
            // The member runs where its request entered the cluster: the forwarding node, or this one.
            let clientID = request.header.clientID
            let node = clientID.hasPrefix(NodeAPI.forwardedPrefix) ? String(clientID.dropFirst(NodeAPI.forwardedPrefix.count)) : api.nodeID
            respond(try NodeAPI.success(requestID, try api.groupService(for: body.group).heartbeat(body, via: node)), nil)
        case .offsetCommit:
            // Answered once the offsets are durable, from the log's flusher thread (or, on a
            // cluster, once the in-sync replicas have them): the socket thread never waits.
            let body: Ganglion_V1_OffsetCommitRequest = try api.decode(request.body)
            try api.groupService(for: body.group).commit(body, highWatermark: { api.commitBound($0) }) { result in
                switch result {
                case .success(let response):
                    respond((try? NodeAPI.success(requestID, response)) ?? NodeAPI.error(requestID, .internal, "encoding failed"), nil)
                case .failure(let error):
                    let failure = error as? ProtocolFailure
                    let code = failure?.code ?? (error as? LogError).map(NodeAPI.code(for:)) ?? .internal
                    NodeMetrics.rejected(code)
                    respond(NodeAPI.error(requestID, code, "the offsets could not be stored: \(failure?.message ?? "\(error)")"), nil)
                }
            }
        case .offsetFetch:
            let body: Ganglion_V1_OffsetFetchRequest = try api.decode(request.body)
            respond(try NodeAPI.success(requestID, try api.groupService(for: body.group).fetchOffsets(body)), nil)
        case .describeGroup:
            let body: Ganglion_V1_DescribeGroupRequest = try api.decode(request.body)
            let described = try api.groupService(for: body.group).describe(body) { api.knownHighWatermark($0) }
            respond(try NodeAPI.success(requestID, described), nil)
        case .listGroups:
            let _: Ganglion_V1_ListGroupsRequest = try api.decode(request.body)
            var listed = Ganglion_V1_ListGroupsResponse()
            for service in api.groups.services { listed.groups += service.list().groups }
            listed.groups.sort { $0.group < $1.group }
            respond(try NodeAPI.success(requestID, listed), nil)
        default:
            try api.resetOffsets(try api.decode(request.body)) { result in
                switch result {
                case .success(let response):
                    respond((try? NodeAPI.success(requestID, response)) ?? NodeAPI.error(requestID, .internal, "encoding failed"), nil)
                case .failure(let error):
                    let failure = error as? ProtocolFailure ?? ProtocolFailure(.internal, "\(error)")
                    NodeMetrics.rejected(failure.code)
                    respond(NodeAPI.error(requestID, failure.code, failure.message), nil)
                }
            }
        }
    }
}
