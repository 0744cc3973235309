import CairnProtocol
import CairnStore
import DurableFiles
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SystemdProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// `cairn serve`: the store behind a Unix socket speaking the JSON-RPC
/// contract.
///
/// Run it as a `Service` in a `ServiceGroup`: on a graceful shutdown
/// (SIGTERM, SIGINT) it stops accepting, lets each connection finish the
/// request it is carrying out, closes the store cleanly and removes the
/// socket.
public final class CairnServer: Service, Sendable {
    public let configuration: ServerConfiguration
    let store: ArtifactStore
    let dispatcher: Dispatcher
    let logger: Logger
    let registry = ConnectionRegistry()
    let serviceManager: ServiceManager

    /// Opens the store and reads the access policy; binds nothing yet.
    ///
    /// - Throws: when the data directory, store or policy cannot be used.
    /// - Parameter serviceManager: whom to tell of readiness and shutdown (systemd), if anyone.
    public init(configuration: ServerConfiguration, logger: Logger, serviceManager: ServiceManager? = nil) throws {
        self.configuration = configuration
        self.logger = logger
        self.serviceManager = serviceManager ?? .none(logger: logger)
        self.serviceManager.notify(.status("opening the store in \(configuration.dataDirectory)"))
        try ensurePrivateDirectory(configuration.dataDirectory)
        var storeConfiguration = configuration.store
        storeConfiguration.maxArtifactBytes = configuration.limits.maxArtifactBytes
        store = try ArtifactStore.open(
            directory: configuration.storeDirectory, configuration: storeConfiguration, logger: logger)
        let policy = try AccessPolicy.load(path: configuration.resolvedAccessPolicyPath, serverUID: getuid())
        let catalog = LoadedCatalog.load(directory: configuration.providersDirectory, logger: logger)
        let snapshots = BackupSnapshots(
            directory: configuration.snapshotsDirectory, idleTimeout: configuration.snapshotIdleTimeout,
            configurationFiles: { [configuration] in configuration.backupConfigurationFiles() })
        dispatcher = Dispatcher(
            store: store, policy: policy, limits: configuration.limits, catalog: catalog, snapshots: snapshots,
            logger: logger)
    }

    public func run() async throws {
        let connection = ConnectionStateMachine.Configuration(
            limits: configuration.limits, idleTimeout: configuration.idleTimeout,
            pipelines: { Dispatcher.pipelines($0, attachment: $1) })
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            // A client may shut its writing half after the last request (socat does)
            // and still read the responses.
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            // Each connection asks for its reads: none while it holds back (back-pressure).
            .childChannelOption(ChannelOptions.autoRead, value: false)
            // Bulk transfers: see `SocketTuning`.
            .childChannelOption(
                ChannelOptions.recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(
                    minimum: 64, initial: 2048, maximum: SocketTuning.serverMaxReadBytes)
            )
            .childChannelOption(ChannelOptions.socketOption(.so_sndbuf), value: SocketTuning.sendBufferBytes)
            .childChannelInitializer { channel in
                Peer.of(channel).flatMapThrowing { peer in
                    try channel.pipeline.syncOperations.addHandler(
                        Connection(
                            peer: peer, dispatcher: self.dispatcher, configuration: connection,
                            registry: self.registry, logger: self.logger))
                }
            }
        let (server, path) = try await listen(with: bootstrap)
        defer { if configuration.inheritedSocket == nil { SocketFile.remove(path) } }
        logger.notice(
            "cairn serving",
            metadata: [
                "socket": "\(path)", "dataDir": "\(configuration.dataDirectory)", "layout": "\(store.layoutVersion)",
            ])
        // The store is open and the socket accepts.
        serviceManager.notify(.ready, .status("serving on \(path)"))

        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { background in
                background.addTask { await self.expireUploadsPeriodically() }
                background.addTask {
                    await self.serviceManager.runWatchdog { try await server.eventLoop.submit {}.get() }
                }
                try await withTaskCancellationHandler {
                    try await server.closeFuture.get()
                } onCancel: {
                    server.close(promise: nil)
                }
                // The listener is closed: the connections finish what they owe and go.
                registry.shutDownAll()
                await registry.waitUntilEmpty()
                background.cancelAll()
            }
        } onGracefulShutdown: {
            self.logger.notice("shutting down: no new connections; finishing requests in flight")
            self.serviceManager.notify(.stopping, .status("shutting down: finishing requests in flight"))
            server.close(promise: nil)
            self.registry.shutDownAll()
        }
        try store.flush()
        logger.notice("cairn stopped")
    }

    /// Expires idle uploads and unread backup snapshots until cancelled.
    private func expireUploadsPeriodically() async {
        while true {
            do { try await Task.sleep(for: configuration.uploadExpiryInterval) } catch { return }
            do {
                try await store.expireIdleUploads()
            } catch {
                logger.warning("expiring idle uploads failed", metadata: ["error": "\(error)"])
            }
            for id in dispatcher.snapshots.expire(now: .now) {
                logger.notice("removed a backup snapshot nobody read", metadata: ["snapshot": "\(id)"])
            }
        }
    }
}

func ensurePrivateDirectory(_ path: String) throws {
    // The data directory and any missing parent, 0700, each flushed into its parent before the server starts.
    do throws(DurableFileError) {
        try Durable.createDirectory(path)
    } catch let error where error.code == .notDirectory && error.path == path {
        throw ServerError("\(path) exists and is not a directory")
    } catch {
        throw ServerError("cannot create the data directory \(path): \(error.reason)")
    }
}

/// A start-up failure of the server, with a message for the operator.
public struct ServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
