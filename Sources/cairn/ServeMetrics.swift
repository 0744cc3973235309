import ArgumentParser
import CairnMetricsEndpoint
import CairnProtocol
import CairnServer
import ListenAddresses
import Logging
import ServiceLifecycle

/// The metrics options of `cairn serve`, and how the server's metrics are
/// set up: one Prometheus registry behind swift-metrics for the whole
/// process (always: `system.metrics` answers admins over the socket), and
/// `/metrics` over HTTP only when `--metrics-listen` asks for it.
struct ServeMetricsOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Serve Prometheus metrics at http://HOST:PORT/metrics (HOST an IP address or localhost; port 0 picks a free port, logged).",
            discussion: "Off unless given. Loopback addresses only, unless --metrics-allow-remote.",
            valueName: "host:port"))
    var metricsListen: String?

    @Flag(
        help: ArgumentHelp(
            "Let --metrics-listen take an address other hosts can reach.",
            discussion: "The metrics name every tenant and its usage, and /metrics has no authentication."))
    var metricsAllowRemote = false

    func validate() throws {
        guard let metricsListen else {
            if metricsAllowRemote { throw ValidationError("--metrics-allow-remote needs --metrics-listen") }
            return
        }
        let address: ListenAddress
        do {
            address = try ListenAddress(parsing: metricsListen)
        } catch {
            throw ValidationError("--metrics-listen: \(error)")
        }
        if !address.isLoopback && !metricsAllowRemote {
            throw ValidationError(
                "--metrics-listen \(address) is not a loopback address: anyone who reaches it would read every "
                    + "tenant's usage; use 127.0.0.1 or [::1], or add --metrics-allow-remote")
        }
    }

    /// Sets up swift-metrics for the process; before anything is measured (before the server is made).
    func bootstrap() -> PrometheusExporter {
        PrometheusExporter.bootstrap()
    }

    /// Hands the exporter to `server` for `system.metrics`, and returns the
    /// HTTP endpoint's service when `--metrics-listen` was given.
    func attach(_ exporter: PrometheusExporter, to server: CairnServer, logger: Logger)
        -> [ServiceGroupConfiguration.ServiceConfiguration]
    {
        server.exposeMetrics(MetricsExposition(format: PrometheusExporter.format, render: exporter.text))
        guard let metricsListen, let address = try? ListenAddress(parsing: metricsListen) else { return [] }
        if !address.isLoopback {
            logger.warning("metrics are served on \(address), which is not a loopback address")
        }
        let endpoint = MetricsEndpoint(address: address, logger: logger) { try server.metrics().text }
        return [.init(service: endpoint, successTerminationBehavior: .gracefullyShutdownGroup)]
    }
}
