import ArgumentParser
import Foundation
import Ganglion
import GanglionWire

/// `ganglion topic create|list|describe|delete`.
struct TopicCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic", abstract: "Create, list, describe and delete topics.",
        subcommands: [Create.self, List.self, Describe.self, Delete.self])

    /// `ganglion topic create NAME --partitions N`.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a topic.")
        @OptionGroup var node: NodeAddress
        @Argument(help: "The topic's name.") var name: String
        @Option(help: "Number of partitions.") var partitions: UInt32 = 1
        @Option(help: "Copies of each partition on different nodes (default: min(3, live nodes); 1 on a single node).") var replicationFactor: UInt32 = 0
        @Option(help: "In-sync replicas an acks=all produce needs (default: min(2, replication factor)).") var minInsync: UInt32 = 0
        @Option(help: "Keep records this many ms (0: forever; default 7 days).") var retentionMs: Int64 = 7 * 24 * 3_600_000
        @Flag(help: "Compact by key instead of deleting old segments.") var compact = false
        @Option(help: "The schema registry subject of the topic's events (default with --validation: NAME-value).") var subject: String?
        @Option(help: "Check produced events against the subject: none, id (schema id is a version of it) or full (and the payload decodes).") var validation = "none"

        func validate() throws {
            guard ["none", "id", "full"].contains(validation) else {
                throw ValidationError("--validation \(validation) is not one of none, id, full")
            }
        }

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                let mode: Ganglion_V1_SchemaValidation = validation == "full" ? .full : validation == "id" ? .id : .none
                let topic = try await client.createTopic(name, partitions: partitions, retentionMilliseconds: retentionMs, compacted: compact,
                                                         subject: subject, validation: mode, replicationFactor: replicationFactor, minInSync: minInsync)
                let checked = topic.config.validation == .none ? "" : ", events checked (\(validation)) against subject \(topic.config.subject)"
                print("created topic \(topic.name) with \(topic.partitions.count) partition(s), replication factor \(topic.config.replicationFactor), min-insync \(topic.config.minInsyncReplicas)\(checked)")
            } catch { throw failCommand(error) }
        }
    }

    /// `ganglion topic list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List topics.")
        @OptionGroup var node: NodeAddress

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                for topic in try await client.metadata().topics {
                    print("\(topic.name)\tpartitions=\(topic.config.partitions)\(topic.config.compacted ? "\tcompacted" : "")")
                }
            } catch { throw failCommand(error) }
        }
    }

    /// `ganglion topic describe NAME`.
    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a topic's partitions, offsets and sizes.")
        @OptionGroup var node: NodeAddress
        @Argument(help: "The topic's name.") var name: String

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                let topic = try await client.describeTopic(name)
                print("topic \(topic.name): \(topic.partitions.count) partition(s), replication factor \(topic.config.replicationFactor), min-insync \(topic.config.minInsyncReplicas), retention \(topic.config.retentionMs == 0 ? "forever" : "\(topic.config.retentionMs) ms")\(topic.config.compacted ? ", compacted" : "")\(topic.config.subject.isEmpty ? "" : ", subject \(topic.config.subject) (validation \(topic.config.validation))")")
                print("partition\tleader\treplicas\tisr\tleader-epoch\tlog-start\thigh-watermark\tbytes")
                // "-": unknown (no node holding a replica answered: the partition has no leader).
                func known(_ value: Int64) -> String { value < 0 ? "-" : String(value) }
                for partition in topic.partitions {
                    print("\(partition.partition)\t\(partition.leader.isEmpty ? "none" : partition.leader)\t\(partition.replicas.joined(separator: ","))\t\(partition.inSyncReplicas.joined(separator: ","))\t\(partition.leaderEpoch)\t\(known(partition.logStartOffset))\t\(known(partition.highWatermark))\t\(known(partition.sizeBytes))")
                }
            } catch { throw failCommand(error) }
        }
    }

    /// `ganglion topic delete NAME`.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a topic and its data.")
        @OptionGroup var node: NodeAddress
        @Argument(help: "The topic's name.") var name: String

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                try await client.deleteTopic(name)
                print("deleted topic \(name)")
            } catch { throw failCommand(error) }
        }
    }
}
