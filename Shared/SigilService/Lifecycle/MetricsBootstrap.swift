import Metrics
import Prometheus
import Synchronization

/// The process's Prometheus registry, installed as the swift-metrics backend once.
public enum MetricsBootstrap {
    public static let registry = PrometheusCollectorRegistry()
    private static let done = Mutex(false)

    public static func bootstrap() {
        let first = done.withLock { done in
            defer { done = true }
            return !done
        }
        if first { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
    }
}
