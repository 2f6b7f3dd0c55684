import GanglionWire

/// Replication between nodes (NodeAPI+Replication.swift): REPLICA_FETCH from followers on a
/// partition leader, ALTER_PARTITION from leaders on the controller leader.
struct ReplicationHandler: RequestHandler {
    unowned let api: NodeAPI
    var kinds: [Ganglion_V1_RequestKind] { [.replicaFetch, .alterPartition] }

    func handle(_ request: NodeRequest, respond: @escaping NodeAPI.Respond) throws {
        switch request.header.kind {
        case .replicaFetch: try api.replicaFetch(request.header, try api.decode(request.body), respond: respond)
        default: api.alterPartition(request.header, try api.decode(request.body), respond: respond)
        }
    }
}
