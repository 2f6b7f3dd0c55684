import ClusterCore
import EventLog
import Foundation
import GanglionWire
import ZeroMQ

/// METADATA, CREATE_TOPIC and DELETE_TOPIC. Creations and deletions are answered once their
/// record is committed (NodeAPI+Metadata.swift), from the metadata log's apply path: the socket
/// thread never waits for an fsync or a quorum.
struct TopicHandler: RequestHandler {
    unowned let api: NodeAPI
    var kinds: [Ganglion_V1_RequestKind] { [.metadata, .createTopic, .deleteTopic] }

    func handle(_ request: NodeRequest, respond: @escaping NodeAPI.Respond) throws {
        let requestID = request.requestID
        switch request.header.kind {
        case .metadata:
            respond(try NodeAPI.success(requestID, api.metadataResponse(try api.decode(request.body), principal: request.principal)), nil)
        case .createTopic:
            api.createTopic(try api.decode(request.body)) { respond(NodeAPI.reply(requestID, $0), nil) }
        default:
            api.deleteTopic(try api.decode(request.body)) { respond(NodeAPI.reply(requestID, $0), nil) }
        }
    }
}

extension NodeAPI {
    /// The metadata of the topics `request` names (all when none), as `principal` may see it:
    /// with security on, "all" lists only the topics it may describe.
    func metadataResponse(_ request: Ganglion_V1_MetadataRequest, principal: String? = nil) throws -> Ganglion_V1_MetadataResponse {
        let topics = metadata.state.topics
        var response = Ganglion_V1_MetadataResponse()
        var node = Ganglion_V1_NodeMetadata()
        node.id = nodeID
        // On a cluster, the endpoints this node registered (advertised, as other nodes and
        // clients reach it); on a cluster of one, the bound ones as they are now.
        if cluster.isClustered, let registered = metadata.state.nodes[nodeID] {
            node.apiEndpoint = registered.api
            node.pubEndpoint = registered.pub
            node.httpEndpoint = registered.http
        } else {
            let endpoints = self.endpoints.withLock { $0 }
            node.apiEndpoint = endpoints.api
            node.pubEndpoint = endpoints.pub
            node.httpEndpoint = endpoints.http
        }
        response.nodes = [node]
        // A cluster's other nodes too: clients route each partition to its leader.
        for other in metadata.state.nodes.values.sorted(by: { $0.id < $1.id }) where other.id != nodeID {
            var described = Ganglion_V1_NodeMetadata()
            described.id = other.id
            described.apiEndpoint = other.api
            described.pubEndpoint = other.pub
            described.httpEndpoint = other.http
            response.nodes.append(described)
        }
        var names = request.topics.isEmpty ? topics.keys.sorted() : request.topics
        if request.topics.isEmpty, let nodeGuard, let principal, principal != NodeSecurity.nodePrincipal {
            let authorizer = nodeGuard.authorizer
            names = names.filter { authorizer.authorize(principal: principal, operation: .describe, resourceType: .topic, name: $0) }
        }
        for name in names {
            guard let configuration = topics[name] else {
                response.unknownTopics.append(name)
                continue
            }
            response.topics.append(try describe(name, configuration))
        }
        return response
    }

}
