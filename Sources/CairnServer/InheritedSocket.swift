import SystemdProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// A listening Unix socket handed over by the service manager (socket
/// activation), which the server accepts on instead of binding its own.
///
/// The service manager created the socket file, owns its mode and group,
/// and removes it; the server neither prepares nor removes the path.
public struct InheritedSocket: Sendable, Equatable {
    /// The descriptor, 3 under systemd.
    public let descriptor: CInt
    /// The socket's path as the kernel reports it, for logs (`@name` for an abstract one).
    public let path: String

    /// Takes the one socket of `activation`, after checking that it is a
    /// listening Unix stream socket; marks it close-on-exec.
    ///
    /// - Throws: ``ServerError`` when no socket or more than one was passed,
    ///   or the descriptor is not a listening Unix stream socket.
    public static func adopt(_ activation: SocketActivation) throws -> InheritedSocket {
        guard activation.descriptors.count == 1, let passed = activation.descriptors.first else {
            let names = activation.descriptors.map(\.name).joined(separator: ", ")
            throw ServerError(
                "the service manager passed \(activation.descriptors.count) sockets (\(names)); cairn serve takes one")
        }
        let fd = passed.descriptor
        guard option(fd, SO_DOMAIN) == AF_UNIX, option(fd, SO_TYPE) == Int32(SOCK_STREAM.rawValue),
            option(fd, SO_ACCEPTCONN) == 1
        else {
            throw ServerError(
                "descriptor \(fd) (\(passed.name)) from the service manager is not a listening Unix stream socket")
        }
        _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
        return InheritedSocket(descriptor: fd, path: boundPath(fd))
    }

    /// An integer socket option of `fd`, or `nil` when it cannot be read (not a socket).
    private static func option(_ fd: CInt, _ name: CInt) -> CInt? {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
    }

    /// The address `fd` is bound to, as a path.
    private static func boundPath(_ fd: CInt) -> String {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let status = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let pathLength = Int(length) - MemoryLayout<sa_family_t>.size
        guard status == 0, pathLength > 0 else { return "(unnamed)" }
        var bytes = withUnsafeBytes(of: address.sun_path) { Array($0.prefix(pathLength)) }
        if bytes.first == 0 { return "@" + String(decoding: bytes.dropFirst(), as: UTF8.self) }
        if let end = bytes.firstIndex(of: 0) { bytes.removeSubrange(end...) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
