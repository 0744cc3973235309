import Hummingbird
import ListenAddresses
import Logging
import NIOCore
import ServiceLifecycle

/// `GET /metrics` over HTTP: the process's metrics for a Prometheus server
/// to scrape, as a `Service` of the process's `ServiceGroup`.
///
/// It serves nothing else (any other path is 404) and holds no state: each
/// scrape calls the `metrics` closure it was given, which reads the
/// figures of that moment. It does not check the address it is given: the
/// caller decides whether a non-loopback address is acceptable
/// (``ListenAddress/isLoopback``). On a graceful shutdown it stops
/// accepting and finishes the scrapes under way.
public struct MetricsEndpoint: Service {
    /// Where it listens.
    public let address: ListenAddress
    private let logger: Logger
    private let metrics: @Sendable () async throws -> String
    private let onListening: @Sendable (ListenAddress) async -> Void

    /// - Parameters:
    ///   - address: where to listen; port 0 picks a free port.
    ///   - logger: where the chosen address is logged (notice), and errors.
    ///   - onListening: called once with the address bound (the port chosen).
    ///   - metrics: the text to serve, in Prometheus's text format 0.0.4;
    ///     when it throws, the scrape gets 500 and the error is logged.
    public init(
        address: ListenAddress, logger: Logger,
        onListening: @escaping @Sendable (ListenAddress) async -> Void = { _ in },
        metrics: @escaping @Sendable () async throws -> String
    ) {
        self.address = address
        self.logger = logger
        self.onListening = onListening
        self.metrics = metrics
    }

    public func run() async throws {
        let router = Router()
        router.get("/metrics") { [metrics, logger] _, _ -> Response in
            do {
                let text = try await metrics()
                return Response(
                    status: .ok, headers: [.contentType: PrometheusExporter.contentType],
                    body: .init(byteBuffer: ByteBuffer(string: text)))
            } catch {
                logger.error("cannot render the metrics", metadata: ["error": "\(error)"])
                return Response(status: .internalServerError)
            }
        }
        // Hummingbird logs each request at debug and its own start at info:
        // the endpoint's one line about itself is the one below.
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let requested = address
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(requested.host, port: requested.port), serverName: nil),
            onServerRunning: { [logger, onListening] channel in
                let bound = ListenAddress(
                    host: requested.host, port: channel.localAddress?.port ?? requested.port)
                logger.notice("metrics on http://\(bound)/metrics", metadata: ["metricsAddress": "\(bound)"])
                await onListening(bound)
            },
            logger: quiet)
        try await app.run()
    }
}
