import GanglionWire

/// ASK: a request to the agent shard that owns a key, answered with its reply (NodeAPI+Ask.swift).
struct AskHandler: RequestHandler {
    unowned let api: NodeAPI
    var kinds: [Ganglion_V1_RequestKind] { [.ask] }

    func handle(_ request: NodeRequest, respond: @escaping NodeAPI.Respond) throws {
        let body: Ganglion_V1_AskRequest = try api.decode(request.body)
        let requestID = request.requestID
        let api = self.api
        let forwarded = request.header.clientID.hasPrefix(NodeAPI.forwardedPrefix)
        Task {
            do {
                respond(try NodeAPI.success(requestID, try await api.ask(body, forwarded: forwarded)), nil)
            } catch let failure as ProtocolFailure {
                respond(NodeAPI.error(requestID, failure.code, failure.message), nil)
            } catch {
                respond(NodeAPI.error(requestID, .internal, "\(error)"), nil)
            }
        }
    }
}
