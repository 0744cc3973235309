import ArgumentParser
import CairnServer
import CairnStore
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `cairn serve`: runs the server until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Cairn server on a Unix socket.",
        discussion: """
            The data directory is --data-dir, else $CAIRN_DATA_DIR, else $HOME/.local/share/cairn; \
            it is created with mode 0700. The socket is --socket, else <data-dir>/cairn.sock (mode 0660).
            """
    )

    @Option(help: "The data directory (store, access.json, providers.d/).")
    var dataDir: String?

    @Option(help: "The socket path.")
    var socket: String?

    @Option(help: "The access policy file (default <data-dir>/access.json).")
    var accessPolicy: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(help: "auto (journal when run by systemd, else text), text, json (a JSON object a line) or journal.")
    var logFormat: LogFormat = .auto

    @Option(help: "Close connections on which nothing moved for this many seconds.")
    var idleTimeout: Int = 300

    @Option(help: "Expire uploads not appended to for this many seconds.")
    var uploadIdleTimeout: Int = 24 * 3600

    @Option(help: "The most bytes the store may grow to.")
    var storeSizeLimit: Int?

    @Option(help: "The largest artifact accepted, in bytes.")
    var maxArtifactBytes: UInt64?

    @OptionGroup var metrics: ServeMetricsOptions

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown log level \(logLevel)")
        }
        let year = 365 * 24 * 3600
        for (name, value) in [("--idle-timeout", idleTimeout), ("--upload-idle-timeout", uploadIdleTimeout)]
        where !(1...year).contains(value) {
            throw ValidationError("\(name) must be from 1 to \(year) seconds (a year), not \(value)")
        }
        if let storeSizeLimit, storeSizeLimit < 1 {
            throw ValidationError("--store-size-limit must be a positive number of bytes, not \(storeSizeLimit)")
        }
        if maxArtifactBytes == 0 {
            throw ValidationError("--max-artifact-bytes must be a positive number of bytes")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        logFormat.bootstrap(level: level)
        let logger = Logger(label: "cairn")
        ProcessTuning.keepLargeAllocationsInTheHeap()
        // Nothing the server creates is for anyone but its owner, except the
        // socket, which it widens to 0660 once bound: with this mask the socket
        // is never more open than that, not even between bind and chmod.
        umask(0o077)
        var configuration = ServerConfiguration(
            dataDirectory: dataDir ?? ServerConfiguration.defaultDataDirectory(), socketPath: socket)
        configuration.accessPolicyPath = accessPolicy
        configuration.idleTimeout = .seconds(idleTimeout)
        configuration.store.uploadIdleTimeout = .seconds(uploadIdleTimeout)
        if let storeSizeLimit { configuration.store.mapSizeLimit = storeSizeLimit }
        if let maxArtifactBytes { configuration.limits.maxArtifactBytes = maxArtifactBytes }
        let exporter = metrics.bootstrap()
        let server: CairnServer
        do {
            let systemd = try SystemdServiceContext(logger: logger)
            configuration.inheritedSocket = systemd.inheritedSocket
            server = try CairnServer(
                configuration: configuration, logger: logger, serviceManager: systemd.serviceManager)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup)]
                    + metrics.attach(exporter, to: server, logger: logger),
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("server failed: \(error)")
            throw ExitCode(1)
        }
    }
}
