import Prometheus

extension PrometheusMetricsFactory {
    /// Histogram buckets for the node's metrics that measure microseconds, not the default
    /// milliseconds to seconds: the produce local time (``NodeMetrics/produceLocalTime()``) is
    /// the node's stage of an event's end-to-end latency, tens of microseconds.
    public mutating func useNodeBuckets() {
        durationHistogramBuckets[NodeMetrics.produceLocalTimeLabel] =
            [5, 10, 20, 40, 60, 80, 100, 150, 200, 300, 500, 1_000, 2_000, 5_000, 10_000, 50_000].map { Duration.microseconds($0) }
    }
}
