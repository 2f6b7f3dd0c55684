import Dispatch
import Foundation
import GanglionWire
import SchemaRegistry

/// REGISTRY: a schema registry operation as its REST API, answered off the socket thread
/// (registrations and checks compile schemas, which can take seconds for a large one).
struct RegistryHandler: RequestHandler {
    unowned let api: NodeAPI
    var kinds: [Ganglion_V1_RequestKind] { [.registry] }

    func handle(_ request: NodeRequest, respond: @escaping NodeAPI.Respond) throws {
        let body: Ganglion_V1_RegistryRequest = try api.decode(request.body)
        let requestID = request.requestID
        let registry = api.registry
        NodeAPI.registryWork.async {
            let answer = RegistryREST(service: registry).handle(RegistryHTTPRequest(
                method: body.method, segments: body.path, query: body.query, body: Array(body.body)))
            var response = Ganglion_V1_RegistryResponse()
            response.status = UInt32(answer.status)
            response.body = Data(answer.body)
            do {
                respond(try NodeAPI.success(requestID, response), nil)
            } catch {
                respond(NodeAPI.error(requestID, .internal, "\(error)"), nil)
            }
        }
    }
}
