import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

extension CairnServer {
    /// Starts accepting: on the socket the service manager handed over, or
    /// on a socket of its own at ``ServerConfiguration/socketPath``.
    ///
    /// An own socket replaces a stale socket file (never a live one) and is
    /// widened to 0660 once bound; the caller removes it when done. An
    /// inherited socket belongs to the service manager, which set its mode.
    ///
    /// - Returns: the listening channel and the socket's path, for logs.
    func listen(with bootstrap: ServerBootstrap) async throws -> (any Channel, String) {
        if let inherited = configuration.inheritedSocket {
            let channel = try await bootstrap.withBoundSocket(inherited.descriptor).get()
            return (channel, inherited.path)
        }
        let path = configuration.socketPath
        try SocketFile.prepare(path)
        let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
        chmod(path, 0o660)
        return (channel, path)
    }
}
