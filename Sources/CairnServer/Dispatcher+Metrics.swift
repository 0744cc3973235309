import CairnProtocol

extension Dispatcher {
    /// `system.metrics` (a Cairn addition): the server's metrics. Its
    /// access (the admin scope on every tenant, as they describe every
    /// tenant together) is checked before it runs. On a task, not the
    /// connection's thread: it reads every tenant's usage and writes out
    /// every metric.
    func systemMetrics(_ params: NoParams, _ call: Call) async throws -> MetricsResult {
        guard let result = try metrics.render(store) else {
            throw RPCError(.internalError, "this server was started without metrics")
        }
        return result
    }
}
