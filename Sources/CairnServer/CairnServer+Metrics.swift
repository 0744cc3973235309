import CairnProtocol

extension CairnServer {
    /// Gives the server the way its metrics are written out: `system.metrics`
    /// answers with it (to peers with the admin scope on every tenant), and
    /// ``metrics()`` returns it. Call it once, before ``run()``.
    ///
    /// The server measures through swift-metrics whether or not this is
    /// called; what receives the figures is the process's
    /// `MetricsSystem.bootstrap`, which must come before the server is made.
    public func exposeMetrics(_ exposition: MetricsExposition) {
        dispatcher.metrics.expose(with: exposition)
    }

    /// The metrics as they stand, with the store's sizes and every tenant's
    /// usage read now: what an HTTP endpoint serves.
    ///
    /// - Throws: ``ServerError`` when ``exposeMetrics(_:)`` was not called,
    ///   or when the store cannot be read.
    public func metrics() throws -> MetricsResult {
        guard let result = try dispatcher.metrics.render(dispatcher.store) else {
            throw ServerError("the server was given no metrics exposition")
        }
        return result
    }
}
