import GanglionWire

/// INIT_PRODUCER_ID: a new idempotent producer id, or the next epoch of one (NodeAPI+Metadata.swift).
struct ProducerIDHandler: RequestHandler {
    unowned let api: NodeAPI
    var kinds: [Ganglion_V1_RequestKind] { [.initProducerID] }

    func handle(_ request: NodeRequest, respond: @escaping NodeAPI.Respond) throws {
        let requestID = request.requestID
        api.initProducer(try api.decode(request.body)) { respond(NodeAPI.reply(requestID, $0), nil) }
    }
}
