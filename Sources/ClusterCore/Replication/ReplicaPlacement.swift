/// Where a new topic's partitions live: `replicationFactor` distinct nodes per partition, spread
/// so that every node holds about as many replicas — and leads about as many partitions — as
/// any other (Kafka's rack-unaware assignment, made to count the load already placed).
public enum ReplicaPlacement {
    /// The replicas of each of `partitions` partitions, preferred leader first, over `nodes`
    /// (the live nodes). `load` counts the replicas and leaderships each node already has, so a
    /// cluster's topics together stay balanced. Deterministic: the same inputs, the same answer.
    public static func place(partitions: Int32, replicationFactor: Int32, nodes: [String],
                             load: [String: (replicas: Int, leaders: Int)] = [:]) throws(MetadataError) -> [[String]] {
        let nodes = Array(Set(nodes)).sorted()
        guard replicationFactor >= 1 else {
            throw MetadataError(code: .invalidConfiguration, message: "replication factor must be at least 1")
        }
        guard Int(replicationFactor) <= nodes.count else {
            throw MetadataError(code: .invalidConfiguration,
                                message: "replication factor \(replicationFactor) needs \(replicationFactor) live nodes; \(nodes.count) are alive (\(nodes.joined(separator: ", ")))")
        }
        var replicas = nodes.map { load[$0]?.replicas ?? 0 }
        var leaders = nodes.map { load[$0]?.leaders ?? 0 }
        var placement: [[String]] = []
        for _ in 0..<partitions {
            // The leader: the node leading fewest (then holding fewest), ties by name.
            let leader = nodes.indices.min { (leaders[$0], replicas[$0], $0) < (leaders[$1], replicas[$1], $1) }!
            var chosen = [leader]
            // The followers: the nodes holding fewest, walking on from the leader so that
            // partitions led by one node do not all follow the same others.
            let order = (1..<nodes.count).map { (leader + $0) % nodes.count }
            for _ in 1..<Int(replicationFactor) {
                let next = order.filter { !chosen.contains($0) }.min { (replicas[$0], order.firstIndex(of: $0)!) < (replicas[$1], order.firstIndex(of: $1)!) }!
                chosen.append(next)
            }
            for index in chosen { replicas[index] += 1 }
            leaders[leader] += 1
            placement.append(chosen.map { nodes[$0] })
        }
        return placement
    }
}
