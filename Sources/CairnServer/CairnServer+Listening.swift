import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

extension CairnServer {
    /// Starts accepting: on the socket the service manager handed over, or
    /// on a socket of its own at ``ServerConfiguration/socketPath``.
    ///
    /// An own socket replaces a stale socket file (never a live one). It is
    /// bound under a temporary name beside the path, widened to 0660, and
    /// only then linked at the path (a link, not a rename: it fails rather
    /// than replace a socket another server put there meanwhile), so no client
    /// can connect before its mode is right; the caller removes it when done.
    /// A socket is no data: nothing of this needs flushing. An inherited
    /// socket belongs to the service manager, which set its mode.
    ///
    /// - Returns: the listening channel and the socket's path, for logs.
    func listen(with bootstrap: ServerBootstrap) async throws -> (any Channel, String) {
        if let inherited = configuration.inheritedSocket {
            let channel = try await bootstrap.withBoundSocket(inherited.descriptor).get()
            return (channel, inherited.path)
        }
        let path = configuration.socketPath
        try SocketFile.prepare(path)
        let bound = "\(path).\(getpid())"
        guard bound.utf8.count < SocketFile.maximumPathBytes else {
            // No room for a longer name: bound at the path itself, widened a moment later.
            let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
            chmod(path, 0o660)
            return (channel, path)
        }
        unlink(bound)  // left by a server of this pid that died binding: no one else names it
        let channel = try await bootstrap.bind(unixDomainSocketPath: bound, cleanupExistingSocketFile: false).get()
        defer { unlink(bound) }
        guard chmod(bound, 0o660) == 0, link(bound, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? await channel.close()
            throw ServerError("cannot put the socket at \(path): \(reason)")
        }
        return (channel, path)
    }
}
