import GanglionWire

/// SECURITY: ACLs, principals and HTTP tokens. Lists are answered from this node's metadata;
/// changes reach the controller leader (NodeAPI+Cluster.swift forwards them) and are answered
/// once their record is committed (NodeAPI+SecurityAdmin.swift).
struct SecurityHandler: RequestHandler {
    unowned let api: NodeAPI
    var kinds: [Ganglion_V1_RequestKind] { [.security] }

    func handle(_ request: NodeRequest, respond: @escaping NodeAPI.Respond) throws {
        let body: Ganglion_V1_SecurityRequest = try api.decode(request.body)
        let requestID = request.requestID
        if body.isChange {
            api.changeSecurity(body) { respond(NodeAPI.reply(requestID, $0), nil) }
        } else {
            respond(try NodeAPI.success(requestID, api.listSecurity(body)), nil)
        }
    }
}
