import GanglionWire

/// The cluster's own requests (NodeAPI+Cluster.swift): RAFT between voters (one-way: no reply),
/// CONTROLLER_FETCH from observers, NODE_HEARTBEAT to the controller leader, CLUSTER_STATUS.
struct ControllerHandler: RequestHandler {
    unowned let api: NodeAPI
    var kinds: [Ganglion_V1_RequestKind] { [.raft, .controllerFetch, .nodeHeartbeat, .clusterStatus] }

    func handle(_ request: NodeRequest, respond: @escaping NodeAPI.Respond) throws {
        switch request.header.kind {
        case .raft:
            try api.receiveRaft(try api.decode(request.body))
            respond([], nil)
        case .controllerFetch:
            try api.controllerFetch(request.header, try api.decode(request.body), respond: respond)
        case .nodeHeartbeat:
            api.nodeHeartbeat(request.header, try api.decode(request.body), respond: respond)
        default:
            let _: Ganglion_V1_ClusterStatusRequest = try api.decode(request.body)
            respond(try NodeAPI.success(request.requestID, api.clusterStatus()), nil)
        }
    }
}
