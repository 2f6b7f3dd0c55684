import ArgumentParser
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
                + "controller.commitOffset, answeredBy, nodes[] with id, voter, state (alive, fenced, shutdown), api, pub, http, incarnation."
        )

        @OptionGroup var node: NodeAddress
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() async throws {
            let status: Ganglion_V1_ClusterStatusResponse
            do {
                let client = try await node.client()
                status = try await client.clusterStatus()
                client.close()
            } catch {
                throw failCommand(error)
            }
            if json {
                print(Self.json(status))
            } else {
                print(Self.table(status))
            }
        }

        /// The status as JSON (the documented keys).
        static func json(_ status: Ganglion_V1_ClusterStatusResponse) -> String {
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
                          "partitionEpoch": partition.partitionEpoch, "highWatermark": partition.highWatermark]
                     }]
                },
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }

        /// The status as a table for a person.
        static func table(_ status: Ganglion_V1_ClusterStatusResponse) -> String {
            var lines = [
                "controller leader: \(status.controller.leader.isEmpty ? "(none known)" : status.controller.leader)  term: \(status.controller.term)"
                    + "  voters: \(status.controller.voters.joined(separator: ","))  (answered by \(status.answeredBy))",
                "",
                "NODE".padding(toLength: 16, withPad: " ", startingAt: 0) + "ROLE     STATE     API                        PUB                        HTTP",
            ]
            for node in status.nodes {
                lines.append(node.id.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + (node.voter ? "voter    " : "observer ") + node.state.padding(toLength: 10, withPad: " ", startingAt: 0)
                    + node.api.padding(toLength: 27, withPad: " ", startingAt: 0) + node.pub.padding(toLength: 27, withPad: " ", startingAt: 0) + node.http)
            }
            if !status.topics.isEmpty {
                lines += ["", "TOPIC".padding(toLength: 24, withPad: " ", startingAt: 0) + "PARTITION  LEADER          LEADER-EPOCH  ISR / REPLICAS"]
                for topic in status.topics {
                    for partition in topic.partitions {
                        lines.append(topic.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                            + "\(partition.partition)".padding(toLength: 11, withPad: " ", startingAt: 0)
                            + (partition.leader.isEmpty ? "none" : partition.leader).padding(toLength: 16, withPad: " ", startingAt: 0)
                            + "\(partition.leaderEpoch)".padding(toLength: 14, withPad: " ", startingAt: 0)
                            + "\(partition.inSyncReplicas.joined(separator: ",")) / \(partition.replicas.joined(separator: ","))")
                    }
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}
