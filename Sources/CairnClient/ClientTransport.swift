import CairnProtocol
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a ``CairnClient`` connection does its I/O.
public enum ConnectionIO: Sendable {
    /// SwiftNIO's event loops: a task waiting for the server suspends and
    /// its thread runs other tasks. For processes with many tasks at once
    /// (the web console, `cairn materialize`, a server of its own).
    case eventLoop
    /// Plain blocking system calls on the calling thread: no event-loop
    /// threads to start, no hop between threads for each read and write, and
    /// attachments written from the caller's bytes with no copy in between.
    /// A task waiting for the server holds its thread in the kernel, so this
    /// is for processes with one task, like the `cairn` CLI's one-shot
    /// commands.
    case blockingSocket
}

/// What a request sends: request lines, or an attachment's bytes as the
/// caller gave them.
enum OutgoingBytes {
    case lines(ByteBuffer)
    case attachment([UInt8])
}

/// The two directions of one connection, as ``CairnClient`` uses them.
protocol ClientTransport: AnyObject {
    /// Writes every byte of `pieces`, in order, before returning.
    func write(_ pieces: [OutgoingBytes]) async throws
    /// Reads what arrives next and hands it to `consume`; `false` once the
    /// connection has ended.
    func read(_ consume: (UnsafeRawBufferPointer) -> Void) async throws -> Bool
}

/// A connection through a SwiftNIO channel (``ConnectionIO/eventLoop``).
final class ChannelTransport: ClientTransport {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    func write(_ pieces: [OutgoingBytes]) async throws {
        var buffer = ByteBuffer()
        for piece in pieces {
            switch piece {
            case .lines(var lines): buffer.writeBuffer(&lines)
            case .attachment(let bytes): buffer.writeBytes(bytes)
            }
        }
        try await outbound.write(buffer)
    }

    func read(_ consume: (UnsafeRawBufferPointer) -> Void) async throws -> Bool {
        guard let buffer = try await inbound.next() else { return false }
        buffer.withUnsafeReadableBytes { consume($0) }
        return true
    }
}

@available(*, unavailable)
extension ChannelTransport: Sendable {}

/// A connection on a blocking Unix socket (``ConnectionIO/blockingSocket``):
/// `connect(2)`, `sendmsg(2)` straight from the caller's buffers, `read(2)`
/// into one reused buffer of ``SocketTuning/clientMaxReadBytes``.
final class SocketTransport: ClientTransport {
    private var descriptor: Int32
    private let readBuffer: UnsafeMutableRawBufferPointer

    /// Connects to the socket at `path`.
    ///
    /// - Throws: ``CairnClientError/cannotConnect(_:_:)`` with the system's reason.
    init(connectingTo path: String) throws(CairnClientError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            throw .cannotConnect(path, "the socket path is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        #if canImport(Glibc)
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
            let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw .cannotConnect(path, reason(errno)) }
        var sendBuffer = Int32(SocketTuning.sendBufferBytes)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sendBuffer, socklen_t(MemoryLayout<Int32>.size))
        var result = connect(fd, &address)
        while result != 0 && errno == EINTR {
            // The connection goes on after a signal; asking again tells how it went.
            result = connect(fd, &address)
            if result != 0 && errno == EISCONN { result = 0 }
        }
        guard result == 0 else {
            let code = errno
            closeDescriptor(fd)
            throw .cannotConnect(path, reason(code))
        }
        descriptor = fd
        readBuffer = .allocate(byteCount: SocketTuning.clientMaxReadBytes, alignment: 16)
    }

    deinit {
        close()
        readBuffer.deallocate()
    }

    /// Closes the socket; idempotent.
    func close() {
        if descriptor >= 0 { closeDescriptor(descriptor) }
        descriptor = -1
    }

    func write(_ pieces: [OutgoingBytes]) async throws {
        guard descriptor >= 0 else { throw CairnClientError.connectionClosed }
        // The pieces stay alive and unchanged until sendmsg(2) has read them, so their storage stays where
        // the pointers taken here point.
        try withExtendedLifetime(pieces) {
            var vectors: [iovec] = []
            vectors.reserveCapacity(pieces.count)
            for piece in pieces {
                let bytes: UnsafeRawBufferPointer
                switch piece {
                case .lines(let buffer): bytes = buffer.withUnsafeReadableBytes { $0 }
                case .attachment(let array): bytes = array.withUnsafeBytes { $0 }
                }
                if bytes.count > 0 {
                    vectors.append(
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count))
                }
            }
            try send(&vectors)
        }
    }

    /// `sendmsg(2)` until every vector is written, resuming after partial
    /// writes and `EINTR`; with `MSG_NOSIGNAL`, so that a server gone away is
    /// an error here rather than a `SIGPIPE`.
    private func send(_ vectors: inout [iovec]) throws(CairnClientError) {
        var first = 0
        while first < vectors.count {
            let count = min(vectors.count - first, maxVectorsPerCall)
            let written = vectors.withUnsafeMutableBufferPointer { all in
                var message = msghdr()
                message.msg_iov = all.baseAddress! + first
                message.msg_iovlen = count
                return sendmsg(descriptor, &message, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw .connectionClosed
            }
            var rest = written
            while rest > 0 {
                if rest >= vectors[first].iov_len {
                    rest -= vectors[first].iov_len
                    first += 1
                } else {
                    vectors[first].iov_base = vectors[first].iov_base! + rest
                    vectors[first].iov_len -= rest
                    rest = 0
                }
            }
        }
    }

    func read(_ consume: (UnsafeRawBufferPointer) -> Void) async throws -> Bool {
        guard descriptor >= 0 else { return false }
        while true {
            let count = readSome(descriptor, readBuffer.baseAddress!, readBuffer.count)
            if count < 0 && errno == EINTR { continue }
            // An error (ECONNRESET and the like) ends the connection as an orderly close does.
            guard count > 0 else { return false }
            consume(UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]))
            return true
        }
    }
}

@available(*, unavailable)
extension SocketTransport: Sendable {}

/// The most vectors one `sendmsg(2)` takes: `IOV_MAX` on Linux and macOS (not exported to Swift).
private let maxVectorsPerCall = 1024

/// The system's words for an `errno`.
private func reason(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// `connect(2)` to a Unix socket address.
private func connect(_ fd: Int32, _ address: inout sockaddr_un) -> Int32 {
    withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
            #if canImport(Glibc)
                Glibc.connect(fd, generic, socklen_t(MemoryLayout<sockaddr_un>.size))
            #else
                Darwin.connect(fd, generic, socklen_t(MemoryLayout<sockaddr_un>.size))
            #endif
        }
    }
}

/// `close(2)`, named apart from `SocketTransport.close()`.
private func closeDescriptor(_ fd: Int32) {
    close(fd)
}

/// `read(2)`, named apart from `SocketTransport.read(_:)`.
private func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}
