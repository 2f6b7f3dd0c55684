import ArgumentParser
import ClusterCore
import Foundation
import Ganglion
import GanglionWire

/// `ganglion cluster`: the cluster as operators see it.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Inspect the cluster: the controller quorum and the nodes.",
        subcommands: [Status.self]
    )

    /// `ganglion cluster status [--json]`.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The controller leader and term, the voters, and every node with its state and endpoints.",
            discussion: "JSON keys: controller.leader (null when none is known), controller.term, controller.voters, "
                + "controller.commitOffset, answeredBy, nodes[] with id, voter, state (alive, fenced, shutdown), api, pub, http, incarnation; "
                + "topics[] with name, replicationFactor, minInsync, partitions[] (partition, leader, replicas, isr, leaderEpoch, partitionEpoch, "
                + "highWatermark: as the answering node holds it, null where it holds no replica); groups[] with name, coordinator (node id), members[] (id, node) and assignments[] (topic, partition, node)."
        )

        @OptionGroup var node: NodeAddress
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() async throws {
            let status: Ganglion_V1_ClusterStatusResponse
            var groups: [Ganglion_V1_DescribeGroupResponse] = []
            do {
                let client = try await node.client()
                defer { client.close() }
                status = try await client.clusterStatus()
                // Each group as its coordinator describes it (a group gone meanwhile is left out).
                for summary in try await client.listGroups() {
                    if let described = try? await client.describeGroup(summary.group) { groups.append(described) }
                }
            } catch {
                throw failCommand(error)
            }
            if json {
                print(Self.json(status, groups: groups))
            } else {
                print(Self.table(status, groups: groups))
            }
        }

        /// The node coordinating `group`: the leader of its `__consumer_offsets` partition on a
        /// cluster, the answering node on a cluster of one.
        static func coordinator(of group: String, in status: Ganglion_V1_ClusterStatusResponse) -> String? {
            guard let offsets = status.topics.first(where: { $0.name == GroupPlacement.offsetsTopic }) else { return status.answeredBy }
            let partition = GroupPlacement.partition(of: group, partitions: Int32(offsets.partitions.count))
            let leader = offsets.partitions.first { $0.partition == UInt32(partition) }?.leader ?? ""
            return leader.isEmpty ? nil : leader
        }

        /// Each assigned partition of `group` with the node of the member holding it.
        static func assignments(_ group: Ganglion_V1_DescribeGroupResponse) -> [(topic: String, partition: UInt32, node: String)] {
            group.members.flatMap { member in
                member.assigned.flatMap { entry in entry.partitions.map { (entry.topic, $0, member.node) } }
            }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
        }

        /// The status as JSON (the documented keys).
        static func json(_ status: Ganglion_V1_ClusterStatusResponse, groups: [Ganglion_V1_DescribeGroupResponse]) -> String {
            let object: [String: Any] = [
                "controller": [
                    "leader": status.controller.leader.isEmpty ? NSNull() : status.controller.leader as Any,
                    "term": status.controller.term,
                    "voters": status.controller.voters,
                    "commitOffset": status.controller.commitOffset,
                ] as [String: Any],
                "answeredBy": status.answeredBy,
                "nodes": status.nodes.map { node -> [String: Any] in
                    ["id": node.id, "voter": node.voter, "state": node.state, "api": node.api, "pub": node.pub, "http": node.http,
                     "incarnation": node.incarnation]
                },
                "topics": status.topics.map { topic -> [String: Any] in
                    ["name": topic.name, "replicationFactor": topic.config.replicationFactor, "minInsync": topic.config.minInsyncReplicas,
                     "partitions": topic.partitions.map { partition -> [String: Any] in
                         ["partition": partition.partition, "leader": partition.leader.isEmpty ? NSNull() : partition.leader as Any,
                          "replicas": partition.replicas, "isr": partition.inSyncReplicas, "leaderEpoch": partition.leaderEpoch,
                          "partitionEpoch": partition.partitionEpoch,
                          "highWatermark": partition.highWatermark < 0 ? NSNull() : partition.highWatermark as Any]
                     }]
                },
                "groups": groups.map { group -> [String: Any] in
                    ["name": group.group, "coordinator": coordinator(of: group.group, in: status) as Any? ?? NSNull(),
                     "members": group.members.map { ["id": $0.memberID, "node": $0.node] },
                     "assignments": assignments(group).map { ["topic": $0.topic, "partition": $0.partition, "node": $0.node] as [String: Any] }]
                },
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }

        /// The status as a table for a person.
        static func table(_ status: Ganglion_V1_ClusterStatusResponse, groups: [Ganglion_V1_DescribeGroupResponse]) -> String {
            // Each table's columns are as wide as their widest cell: long topic names (an agent's
            // changelog) and endpoints are printed whole.
            var sections = [
                "controller leader: \(status.controller.leader.isEmpty ? "(none known)" : status.controller.leader)  term: \(status.controller.term)"
                    + "  voters: \(status.controller.voters.joined(separator: ","))  (answered by \(status.answeredBy))",
                CommandOutput.table(header: ["NODE", "ROLE", "STATE", "API", "PUB", "HTTP"],
                                    rows: status.nodes.map { [$0.id, $0.voter ? "voter" : "observer", $0.state, $0.api, $0.pub, $0.http] },
                                    empty: "(no nodes known)"),
            ]
            if !status.topics.isEmpty {
                sections.append(CommandOutput.table(
                    header: ["TOPIC", "PARTITION", "LEADER", "LEADER-EPOCH", "ISR / REPLICAS"],
                    rows: status.topics.flatMap { topic in
                        topic.partitions.map { partition in
                            [topic.name, "\(partition.partition)", partition.leader.isEmpty ? "none" : partition.leader, "\(partition.leaderEpoch)",
                             "\(partition.inSyncReplicas.joined(separator: ",")) / \(partition.replicas.joined(separator: ","))"]
                        }
                    }, empty: ""))
            }
            if !groups.isEmpty {
                sections.append(CommandOutput.table(
                    header: ["GROUP", "COORDINATOR", "MEMBERS", "SHARDS PER NODE"],
                    rows: groups.map { group in
                        let perNode = Dictionary(grouping: assignments(group), by: \.node).map { "\($0.key.isEmpty ? "?" : $0.key):\($0.value.count)" }.sorted()
                        return [group.group, coordinator(of: group.group, in: status) ?? "none", "\(group.members.count)", perNode.joined(separator: " ")]
                    }, empty: ""))
            }
            return sections.joined(separator: "\n\n")
        }
    }
}
