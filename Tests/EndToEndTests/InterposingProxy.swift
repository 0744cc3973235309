import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A Unix-socket proxy in front of a real server, for what a test cannot
/// make the server or the client do: hold a request back, or damage one.
/// One connection, on threads of its own; responses pass unchanged.
final class InterposingProxy: Sendable {
    enum Behavior: Sendable {
        /// Stop passing the client's requests on at the first
        /// `artifacts.read`, so that a test can act while a download is under way.
        case stallAtFirstRead
        /// Pass everything on, but invert the bits of the client's byte at
        /// `flipRequestByteAt` (counted from 0 in its stream), as a faulty
        /// path would, and blank `hideCapability` out of the server's first
        /// response (its `system.hello`), as an older server would answer.
        case tamper(flipRequestByteAt: Int?, hideCapability: String?)
    }

    let path: String
    /// Yields once, when a read has been held back (``Behavior/stallAtFirstRead``).
    let stalled: AsyncStream<Void>
    private let listener: Int32

    init(path: String, upstream: String, behavior: Behavior) throws {
        self.path = path
        let (stalled, held) = AsyncStream<Void>.makeStream()
        self.stalled = stalled
        let fd = Self.unixSocket()
        guard fd >= 0, ServerProcess.withUnixAddress(path, { bind(fd, $0, $1) }) == 0, listen(fd, 1) == 0 else {
            throw ServerProcess.FixtureError(description: "cannot listen on \(path): \(errno)")
        }
        listener = fd
        Thread.detachNewThread {
            let client = accept(fd, nil, nil)
            let server = Self.unixSocket()
            guard client >= 0, server >= 0, ServerProcess.withUnixAddress(upstream, { connect(server, $0, $1) }) == 0
            else { return }
            switch behavior {
            case .stallAtFirstRead:
                Thread.detachNewThread { Self.copy(from: server, to: client) }
                Self.passRequestsUntilARead(from: client, to: server, held: held)
            case .tamper(let position, let capability):
                Thread.detachNewThread { Self.copy(from: server, to: client, blankingInFirstRead: capability) }
                Self.copy(from: client, to: server, flippingByteAt: position)
            }
        }
    }

    /// Stops accepting and removes the socket.
    func close() {
        shutdown(listener, Int32(SHUT_RDWR))
        releaseDescriptor(listener)
        unlink(path)
    }

    private static func unixSocket() -> Int32 {
        #if canImport(Glibc)
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
            socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
    }

    /// Requests, line by line, up to the first read; then drains the client.
    private static func passRequestsUntilARead(
        from client: Int32, to server: Int32, held: AsyncStream<Void>.Continuation
    ) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(client, &buffer, buffer.count)
            guard count > 0 else { return }
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: 0x0a) {
                let line = Array(pending[...newline])
                pending.removeSubrange(...newline)
                if String(decoding: line, as: UTF8.self).contains("\"artifacts.read\"") {
                    held.yield()
                    while read(client, &buffer, buffer.count) > 0 {}
                    return
                }
                guard write(server, line, line.count) == line.count else { return }
            }
        }
    }

    /// Copies bytes until either side closes, inverting the one at `flipped`
    /// if given, and replacing `"capability"` (with its comma) by as many
    /// spaces in the first read (a JSON array stays valid and the line as long).
    private static func copy(
        from source: Int32, to destination: Int32, flippingByteAt flipped: Int? = nil,
        blankingInFirstRead capability: String? = nil
    ) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var position = 0
        while true {
            let count = read(source, &buffer, buffer.count)
            guard count > 0 else { return }
            if let flipped, position <= flipped, flipped < position + count {
                buffer[flipped - position] ^= 0xFF
            }
            if let capability, position == 0 {
                let pattern = Array(",\"\(capability)\"".utf8)
                var index = 0
                while index + pattern.count <= count {
                    if Array(buffer[index..<index + pattern.count]) == pattern {
                        buffer.replaceSubrange(
                            index..<index + pattern.count, with: repeatElement(UInt8(ascii: " "), count: pattern.count))
                    }
                    index += 1
                }
            }
            position += count
            guard buffer.withUnsafeBytes({ writeAll(destination, UnsafeRawBufferPointer(rebasing: $0[..<count])) })
            else { return }
        }
    }
}

/// Writes all of `bytes` to `fd`; false when the peer is gone.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    var written = 0
    while written < bytes.count {
        let result = write(fd, bytes.baseAddress! + written, bytes.count - written)
        if result <= 0 { return false }
        written += result
    }
    return true
}

/// `close(2)`, named apart from ``InterposingProxy/close()``.
private func releaseDescriptor(_ fd: Int32) {
    close(fd)
}
