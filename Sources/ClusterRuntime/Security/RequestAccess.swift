import ClusterCore
import Foundation
import GanglionWire
import SwiftProtobuf
import ZeroMQ

/// One permission a request needs: an operation on a resource.
struct AccessCheck: Sendable, Hashable, CustomStringConvertible {
    /// The operation.
    var operation: AclOperation
    /// The kind of resource.
    var resourceType: AclResourceType
    /// The resource's name (`kafka-cluster`-like `cluster` for the cluster).
    var name: String

    /// A check on the cluster itself.
    static func cluster(_ operation: AclOperation) -> AccessCheck { AccessCheck(operation: operation, resourceType: .cluster, name: "cluster") }

    /// `write topic orders`.
    var description: String { "\(operation.rawValue) \(resourceType.rawValue) \(name)" }
}

/// What a request needs its principal to be allowed, by kind (Kafka's mapping where there is one):
///
/// | request | needs |
/// |---|---|
/// | produce | write topic |
/// | fetch | read topic |
/// | metadata, list offsets | describe topic (each named) |
/// | create topic | create topic, or create cluster |
/// | delete topic | delete topic |
/// | group heartbeat, offset commit | read group, and read each topic subscribed or committed |
/// | offset fetch, describe group | describe group |
/// | reset offsets | alter group |
/// | list groups, cluster status | describe cluster |
/// | ask | write group (the agent type's group) |
/// | registry | by route: see ``registry(method:path:)`` |
/// | init producer id | any authenticated principal |
/// | security: list / change | describe cluster / alter cluster |
/// | raft, controller fetch, node heartbeat, replica fetch, alter partition | the nodes only |
enum RequestAccess: Sendable, Equatable {
    /// Every check must pass.
    case all([AccessCheck])
    /// One of the checks must pass (create topic: on the topic or on the cluster).
    case any([AccessCheck])
    /// Only the nodes of the cluster (their key) may send it.
    case nodesOnly

    /// What a request of `kind` with `body` needs; throws when the body does not parse.
    static func of(_ kind: Ganglion_V1_RequestKind, body: Frame) throws -> RequestAccess {
        func decode<Body: SwiftProtobuf.Message>(_ type: Body.Type) throws -> Body {
            try body.withUnsafeBytes { try Body(inPlace: $0) }
        }
        switch kind {
        case .produce: return .all([AccessCheck(operation: .write, resourceType: .topic, name: try decode(Ganglion_V1_ProduceRequest.self).topic)])
        case .fetch: return .all([AccessCheck(operation: .read, resourceType: .topic, name: try decode(Ganglion_V1_FetchRequest.self).topic)])
        case .metadata:
            return .all(try decode(Ganglion_V1_MetadataRequest.self).topics.map { AccessCheck(operation: .describe, resourceType: .topic, name: $0) })
        case .listOffsets:
            return .all([AccessCheck(operation: .describe, resourceType: .topic, name: try decode(Ganglion_V1_ListOffsetsRequest.self).topic)])
        case .createTopic:
            let name = try decode(Ganglion_V1_CreateTopicRequest.self).name
            return .any([AccessCheck(operation: .create, resourceType: .topic, name: name), .cluster(.create)])
        case .deleteTopic: return .all([AccessCheck(operation: .delete, resourceType: .topic, name: try decode(Ganglion_V1_DeleteTopicRequest.self).name)])
        case .groupHeartbeat:
            let request = try decode(Ganglion_V1_GroupHeartbeatRequest.self)
            return .all([AccessCheck(operation: .read, resourceType: .group, name: request.group)]
                + request.subscribedTopics.map { AccessCheck(operation: .read, resourceType: .topic, name: $0) })
        case .offsetCommit:
            let request = try decode(Ganglion_V1_OffsetCommitRequest.self)
            let topics = Set(request.offsets.map(\.topic)).sorted()
            return .all([AccessCheck(operation: .read, resourceType: .group, name: request.group)]
                + topics.map { AccessCheck(operation: .read, resourceType: .topic, name: $0) })
        case .offsetFetch: return .all([AccessCheck(operation: .describe, resourceType: .group, name: try decode(Ganglion_V1_OffsetFetchRequest.self).group)])
        case .describeGroup: return .all([AccessCheck(operation: .describe, resourceType: .group, name: try decode(Ganglion_V1_DescribeGroupRequest.self).group)])
        case .resetOffsets: return .all([AccessCheck(operation: .alter, resourceType: .group, name: try decode(Ganglion_V1_ResetOffsetsRequest.self).group)])
        case .listGroups, .clusterStatus: return .all([.cluster(.describe)])
        case .ask: return .all([AccessCheck(operation: .write, resourceType: .group, name: try decode(Ganglion_V1_AskRequest.self).agent)])
        case .registry:
            let request = try decode(Ganglion_V1_RegistryRequest.self)
            return .all(registry(method: request.method, path: request.path))
        case .initProducerID: return .all([])
        case .security: return .all([.cluster(try decode(Ganglion_V1_SecurityRequest.self).isChange ? .alter : .describe)])
        case .raft, .controllerFetch, .nodeHeartbeat, .replicaFetch, .alterPartition: return .nodesOnly
        default: return .nodesOnly
        }
    }

    /// What a schema registry route needs (the REST API and the REGISTRY request alike), as
    /// Confluent's RBAC: reading a subject's versions needs read on it, registering write,
    /// deleting delete, its config or mode alter (describe to read them); the global config and
    /// mode need alter (to change) on the cluster; listing subjects needs describe on the
    /// cluster; schemas by id, types and contexts any authenticated principal.
    static func registry(method: String, path: [String]) -> [AccessCheck] {
        let method = method.uppercased()
        func subject(_ operation: AclOperation, _ name: String) -> [AccessCheck] {
            [AccessCheck(operation: operation, resourceType: .subject, name: name)]
        }
        switch path.first {
        case "subjects":
            guard path.count >= 2 else { return [.cluster(.describe)] }
            switch method {
            case "GET": return subject(.read, path[1])
            case "POST": return subject(path.count >= 3 ? .write : .read, path[1])  // register, or look a schema up
            case "DELETE": return subject(.delete, path[1])
            default: return subject(.alter, path[1])
            }
        case "compatibility":
            return path.count >= 3 ? subject(.read, path[2]) : [.cluster(.describe)]
        case "config", "mode":
            if path.count >= 2 { return subject(method == "GET" ? .describe : .alter, path[1]) }
            return method == "GET" ? [] : [.cluster(.alter)]
        default:
            return []
        }
    }
}
