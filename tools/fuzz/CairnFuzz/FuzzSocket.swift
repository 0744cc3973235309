#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A client connection to a Unix socket made of plain POSIX calls:
/// non-blocking, so the fuzzer writes and reads at once, and every wait is
/// a bounded `poll`. Writes use `MSG_NOSIGNAL`: a connection the server
/// closed is an error to look at, not a SIGPIPE.
///
/// Not `Sendable`: one thread drives one connection.
final class FuzzSocket {
    /// What a read gave.
    enum ReadOutcome {
        case bytes(Int)
        /// Nothing available now.
        case wouldBlock
        /// The peer closed (or reset) the connection.
        case closed
    }

    struct SystemError: Error, CustomStringConvertible {
        var call: String
        var code: Int32
        var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
    }

    private var descriptor: Int32
    private var readBuffer = [UInt8](repeating: 0, count: 256 << 10)

    /// Connects to the socket at `path`.
    init(path: String) throws(SystemError) {
        #if canImport(Glibc)
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw SystemError(call: "socket", code: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw SystemError(call: "connect \(path)", code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw SystemError(call: "connect \(path)", code: code)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        descriptor = fd
    }

    deinit { closeNow() }

    /// Closes the connection; idempotent.
    func closeNow() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    /// Ends the writing half, as a client does after its last request.
    func shutdownWrite() {
        _ = shutdown(descriptor, Int32(SHUT_WR))
    }

    /// Writes what the socket takes now of `bytes[from...]`; the count
    /// written, 0 when it would block, `nil` when the peer is gone.
    func write(_ bytes: [UInt8], from: Int) throws(SystemError) -> Int? {
        let count = bytes.withUnsafeBytes { raw in
            #if canImport(Glibc)
                send(descriptor, raw.baseAddress! + from, min(bytes.count - from, 1 << 20), Int32(MSG_NOSIGNAL))
            #else
                send(descriptor, raw.baseAddress! + from, min(bytes.count - from, 1 << 20), 0)
            #endif
        }
        if count >= 0 { return count }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return 0
        case EPIPE, ECONNRESET: return nil
        default: throw SystemError(call: "send", code: errno)
        }
    }

    /// Reads what is available now, handing the bytes to `body`.
    func read(_ body: (ArraySlice<UInt8>) throws(FuzzFailure) -> Void) throws(FuzzFailure) -> ReadOutcome {
        let count = readBuffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress!, $0.count, 0) }
        if count > 0 {
            try body(readBuffer[..<count])
            return .bytes(count)
        }
        if count == 0 { return .closed }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return .wouldBlock
        default: return .closed  // ECONNRESET: the server closed with our bytes unread
        }
    }

    /// Waits up to `milliseconds` until the socket is readable (or
    /// writable, when `writing`).
    func wait(writing: Bool, milliseconds: Int32) {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN) | (writing ? Int16(POLLOUT) : 0), revents: 0)
        _ = poll(&entry, 1, milliseconds)
    }
}
