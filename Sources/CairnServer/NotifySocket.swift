import SystemdProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// Sends notification datagrams to the service manager's `NOTIFY_SOCKET`.
///
/// Each send opens a datagram socket, sends one message and closes it, as
/// `sd_notify(3)` does: notifications are rare (a few at start and stop,
/// one a watchdog interval), and no socket stays open for a manager that
/// may go away. Abstract (`@name`) addresses work as well as paths.
struct NotifySocket: Sendable {
    let address: NotifySocketAddress

    /// A failure to send, with the reason from the system.
    struct SendError: Error, CustomStringConvertible {
        let description: String
    }

    /// Sends `message` as one datagram.
    ///
    /// - Throws: ``SendError`` when the socket cannot be created or the datagram not sent.
    func send(_ message: [UInt8]) throws(SendError) {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SendError(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = address.socketPathBytes
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: pathBytes) }
        // A path's length counts its NUL (already there in the zeroed struct); an abstract name's does not.
        let length = MemoryLayout<sa_family_t>.size + pathBytes.count + (address.isAbstract ? 0 : 1)
        let sent = withUnsafePointer(to: &socketAddress) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketPointer in
                message.withUnsafeBytes { bytes in
                    sendto(
                        fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), socketPointer, socklen_t(length))
                }
            }
        }
        guard sent == message.count else {
            let reason = sent < 0 ? String(cString: strerror(errno)) : "sent \(sent) of \(message.count) bytes"
            throw SendError(description: "sendto \(address.text): \(reason)")
        }
    }
}
