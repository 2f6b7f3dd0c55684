import AsyncHTTPClient
import Foundation

/// The node's stage of the end-to-end latency, read from its `/metrics`: the histogram
/// `ganglion_produce_local_seconds` (a produce's receipt on the node's socket thread to its batch
/// going out on the stream). Two readings taken around a run give that run's p50 and p99.
struct NodeStageHistogram {
    /// Cumulative counts per bucket upper bound (seconds), as `/metrics` shows them.
    var buckets: [(bound: Double, count: Double)] = []

    /// The histogram as the node at `http` (its base URL) shows it now; empty when it has none.
    static func read(http: String) async throws -> NodeStageHistogram {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: http + "/metrics"), timeout: .seconds(5))
        let text = String(buffer: try await response.body.collect(upTo: 16 << 20))
        return NodeStageHistogram(metrics: text)
    }

    /// Parses the buckets out of Prometheus text.
    init(metrics text: String) {
        let prefix = "ganglion_produce_local_seconds_bucket{le=\""
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            let rest = line.dropFirst(prefix.count)
            guard let close = rest.firstIndex(of: "\"") else { continue }
            let bound = rest[..<close] == "+Inf" ? Double.infinity : Double(rest[..<close]) ?? .nan
            guard let count = line.split(separator: " ").last.flatMap({ Double($0) }), !bound.isNaN else { continue }
            buckets.append((bound, count))
        }
        buckets.sort { $0.bound < $1.bound }
    }

    private init(buckets: [(bound: Double, count: Double)]) { self.buckets = buckets }

    /// What was recorded between `earlier` and this reading.
    func since(_ earlier: NodeStageHistogram) -> NodeStageHistogram {
        NodeStageHistogram(buckets: buckets.map { bucket in
            (bucket.bound, bucket.count - (earlier.buckets.first { $0.bound == bucket.bound }?.count ?? 0))
        })
    }

    /// The `q` quantile in microseconds, interpolated linearly inside its bucket (0 when empty;
    /// the last finite bound when it falls in +Inf).
    func quantile(_ q: Double) -> Double {
        guard let total = buckets.last?.count, total > 0 else { return 0 }
        let rank = q * total
        var lower = (bound: 0.0, count: 0.0)
        for bucket in buckets {
            if bucket.count >= rank {
                guard bucket.bound.isFinite else { return lower.bound * 1e6 }
                let share = bucket.count > lower.count ? (rank - lower.count) / (bucket.count - lower.count) : 1
                return (lower.bound + share * (bucket.bound - lower.bound)) * 1e6
            }
            lower = bucket
        }
        return lower.bound * 1e6
    }
}
