import CairnProtocol
import CairnStore
import CoreMetrics
import Dispatch
import Synchronization

/// How the process renders its metrics as text: what `system.metrics`
/// answers with, and what an HTTP endpoint serves.
///
/// The server measures through swift-metrics only; whoever bootstrapped
/// the metrics backend (`cairn serve`, with Prometheus) says how its
/// figures are written out. The server refreshes the figures it reads from
/// the store just before it calls ``render``.
public struct MetricsExposition: Sendable {
    /// The format of the text, e.g. ``MetricsResult/prometheusText``.
    public var format: String
    /// Writes every metric of the process, as they stand.
    public var render: @Sendable () -> String

    /// - Parameters:
    ///   - format: what `system.metrics` names the text's format.
    ///   - render: writes every metric; called on each request for them, from any thread.
    public init(format: String, render: @escaping @Sendable () -> String) {
        self.format = format
        self.render = render
    }
}

/// What the server measures, through swift-metrics: requests by method and
/// outcome, their latency, connections, and (when scraped) the store's
/// sizes and each tenant's usage.
///
/// Instruments are made once and kept: a method's counters and its timer
/// on its first request, so that counting a request costs a dictionary
/// lookup, one uncontended lock and a few atomic adds, and no metric
/// appears before it has something to say. Method labels are the method
/// table's names; any other name counts as `unknown`, so a client cannot
/// grow the label set. Figures the store holds (map size, usage, quotas,
/// the writer's queue) are read only when the metrics are rendered
/// (``refreshStoreGauges(from:)``), never on a write.
final class ServerMetrics: Sendable {
    /// The label of requests naming no method of the table.
    static let unknownMethod = "unknown"
    /// The outcome of a request answered with a result.
    static let ok = "ok"

    /// One method's instruments, made on its first request.
    final class MethodInstruments: Sendable {
        private struct Made {
            var timer: CoreMetrics.Timer?
            var counters: [String: Counter] = [:]
        }

        private let method: String
        private let made = Mutex(Made())

        init(method: String) { self.method = method }

        /// Counts one request with `outcome` (`ok` or an error's `data.code`) that took `nanoseconds`.
        func record(_ outcome: String, nanoseconds: Int64) {
            let (counter, timer) = made.withLock { made in
                let counter =
                    made.counters[outcome]
                    ?? {
                        let counter = Counter(
                            label: "cairn_requests_total", dimensions: [("method", method), ("code", outcome)])
                        made.counters[outcome] = counter
                        return counter
                    }()
                let timer =
                    made.timer
                    ?? {
                        let timer = CoreMetrics.Timer(
                            label: "cairn_request_duration_seconds", dimensions: [("method", method)])
                        made.timer = timer
                        return timer
                    }()
                return (counter, timer)
            }
            counter.increment()
            timer.recordNanoseconds(nanoseconds)
        }
    }

    private let methods: [String: MethodInstruments]
    private let unknown = MethodInstruments(method: ServerMetrics.unknownMethod)
    private let openConnections = Meter(label: "cairn_connections_open")
    private let acceptedConnections = Counter(label: "cairn_connections_total")
    private let exposition = Mutex<MetricsExposition?>(nil)
    /// Tenants whose quota gauges exist, so that a quota removed takes its series with it.
    private let quotaGauges = Mutex<(bytes: Set<String>, artifacts: Set<String>)>(([], []))

    init() {
        methods = Dictionary(uniqueKeysWithValues: Methods.names.map { ($0, MethodInstruments(method: $0)) })
    }

    // MARK: - Requests and connections

    /// The clock of request times, in nanoseconds (monotonic).
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Counts a request of `method` answered with `reply`, dispatched at `start` (``now()``).
    func record(_ method: String, _ reply: Reply, since start: UInt64) {
        let nanoseconds = Int64(clamping: Self.now() &- start)
        let outcome: String
        switch reply {
        case .result, .binary: outcome = Self.ok
        case .error(let error): outcome = error.code.name
        }
        (methods[method] ?? unknown).record(outcome, nanoseconds: nanoseconds)
    }

    /// A connection was accepted.
    func connectionOpened() {
        acceptedConnections.increment()
        openConnections.increment()
    }

    /// A connection closed (each connection once).
    func connectionClosed() {
        openConnections.decrement()
    }

    // MARK: - Exposition

    /// Sets how the metrics are rendered; `nil` (the default) leaves
    /// `system.metrics` without an answer. Set before the server runs.
    func expose(with exposition: MetricsExposition?) {
        self.exposition.withLock { $0 = exposition }
    }

    /// The metrics, with the store's figures read now; `nil` when the
    /// server was given no ``MetricsExposition``.
    func render(_ store: ArtifactStore) throws -> MetricsResult? {
        guard let exposition = exposition.withLock({ $0 }) else { return nil }
        try refreshStoreGauges(from: store)
        return MetricsResult(format: exposition.format, text: exposition.render())
    }

    /// Reads the store's sizes, its writer's queue and every tenant's
    /// usage and quotas into gauges. A quota removed since the last
    /// refresh removes its gauge.
    func refreshStoreGauges(from store: ArtifactStore) throws {
        let health = try store.health()
        Gauge(label: "cairn_store_map_size_bytes").record(store.mapSizeBytes)
        Gauge(label: "cairn_store_used_bytes").record(health.usedBytes)
        Gauge(label: "cairn_store_size_limit_bytes").record(health.sizeLimitBytes)
        Gauge(label: "cairn_store_headroom_bytes").record(health.headroomBytes)
        Gauge(label: "cairn_store_disk_free_bytes").record(health.diskFreeBytes)
        Gauge(label: "cairn_uploads_open").record(health.openUploads)
        Gauge(label: "cairn_reclaim_pending_blobs").record(health.pendingReclaim)
        Gauge(label: "cairn_writer_queue_depth").record(store.writesWaiting)
        var withBytesQuota: Set<String> = []
        var withArtifactsQuota: Set<String> = []
        for usage in try store.tenantUsages() {
            let tenant = [("tenant", usage.tenant.rawValue)]
            Gauge(label: "cairn_tenant_artifacts", dimensions: tenant).record(usage.artifactCount)
            Gauge(label: "cairn_tenant_logical_bytes", dimensions: tenant).record(usage.logicalBytes)
            Gauge(label: "cairn_tenant_stored_bytes", dimensions: tenant).record(usage.storedBytes)
            if let maxBytes = usage.maxBytes {
                Gauge(label: "cairn_tenant_quota_bytes", dimensions: tenant).record(maxBytes)
                withBytesQuota.insert(usage.tenant.rawValue)
            }
            if let maxArtifacts = usage.maxArtifacts {
                Gauge(label: "cairn_tenant_quota_artifacts", dimensions: tenant).record(maxArtifacts)
                withArtifactsQuota.insert(usage.tenant.rawValue)
            }
        }
        let (bytesGone, artifactsGone) = quotaGauges.withLock { known in
            defer { known = (withBytesQuota, withArtifactsQuota) }
            return (known.bytes.subtracting(withBytesQuota), known.artifacts.subtracting(withArtifactsQuota))
        }
        for tenant in bytesGone { Gauge(label: "cairn_tenant_quota_bytes", dimensions: [("tenant", tenant)]).destroy() }
        for tenant in artifactsGone {
            Gauge(label: "cairn_tenant_quota_artifacts", dimensions: [("tenant", tenant)]).destroy()
        }
    }
}
