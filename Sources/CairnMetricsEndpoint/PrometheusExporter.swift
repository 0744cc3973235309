import CoreMetrics
import Prometheus

/// The process's metrics backend: a Prometheus registry behind
/// swift-metrics, set up once with ``bootstrap()``.
///
/// Everything the process measures through swift-metrics (`Counter`,
/// `Timer`, `Gauge`, `Meter`) lands in one registry, which ``text()``
/// writes out in Prometheus's text format, version 0.0.4. Timers become
/// histograms in seconds, with buckets from 50 µs to 10 s (requests are
/// tens of microseconds; a durable commit is milliseconds).
public struct PrometheusExporter: Sendable {
    /// The format ``text()`` writes, as `system.metrics` names it.
    public static let format = "prometheus-text-0.0.4"
    /// The HTTP content type of the format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The buckets of every timer's histogram.
    public static let durationBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
        .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(10),
    ]

    private let registry: PrometheusCollectorRegistry

    private init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    /// Makes the registry and bootstraps swift-metrics with it. Call it
    /// once per process, before any metric is made: metrics made earlier
    /// stay with the no-op backend.
    public static func bootstrap() -> PrometheusExporter {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        MetricsSystem.bootstrap(factory)
        return PrometheusExporter(registry: registry)
    }

    /// Every metric of the registry as it stands, in the text format.
    public func text() -> String {
        registry.emitToString()
    }
}
