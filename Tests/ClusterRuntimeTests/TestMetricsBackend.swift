import CoreMetrics
import MetricsTestKit

/// The in-memory metrics backend of the test process, bootstrapped on first use (swift-metrics
/// takes one bootstrap per process, so every test that reads metrics goes through this one).
/// Metrics recorded before the first use went nowhere; labels are shared by the whole process,
/// so a test reads the dimensions of what it alone made (its own agent name) or compares counts.
enum TestMetricsBackend {
    /// The backend.
    static let shared: TestMetrics = {
        let metrics = TestMetrics()
        MetricsSystem.bootstrap(metrics)
        return metrics
    }()
}
