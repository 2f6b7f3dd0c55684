import ClusterRuntime
import EventLog
import Foundation
import Ganglion

extension TestCluster {
    /// Creates `topic` with three partitions of one replica each, waits until each has a leader,
    /// and stores `records(p)` records in partition p (timestamps 1000, 2000, …); returns each
    /// partition's leader.
    func singleReplicaTopic(_ topic: String, client: GanglionClient, records: (UInt32) -> Int) async throws -> [String] {
        _ = try await client.createTopic(topic, partitions: 3, replicationFactor: 1)
        try await waitForAll("\(topic) placed") { $0.metadataState.partitions[topic]?.allSatisfy { $0.leader != nil } == true }
        for partition in UInt32(0)..<3 {
            var batch = RecordBatchBuilder()
            for index in 0..<records(partition) { batch.append(key: nil, value: [UInt8(index)], timestamp: Int64(index + 1) * 1000) }
            _ = try await client.produce(topic: topic, partition: partition, batch: batch.build())
        }
        return try await client.describeTopic(topic).partitions.map(\.leader)
    }
}
