import CairnProtocol
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A client connection to a Unix socket made of plain POSIX calls, for
/// sending bytes no well-behaved client would send and reading the answer
/// line by line.
///
/// The descriptor is non-blocking and every wait is bounded: reads poll
/// and sleep in short steps, and bulk writes (``send(_:timeout:)``,
/// ``exchange(_:lines:timeout:)``) wait in `poll(2)` on a thread of their
/// own, so a silent server fails the test with ``Failure/timedOut(_:)``
/// instead of hanging it, and the cooperative thread pool is never blocked
/// for long, nor needed to make progress. Writes use `MSG_NOSIGNAL`, so a
/// connection the server closed gives ``Failure/closed`` rather than a
/// SIGPIPE that would end the test process.
///
/// Not `Sendable`: one task drives one connection.
final class RawSocket {
    /// Why a read or write did not complete.
    enum Failure: Error, CustomStringConvertible {
        /// Nothing (or not enough) arrived in time; the bytes buffered so far.
        case timedOut(String)
        /// The peer closed the connection (or reset it).
        case closed(String)
        /// A system call failed.
        case system(String, Int32)

        var description: String {
            switch self {
            case .timedOut(let pending): "timed out waiting for the server; buffered: \(pending)"
            case .closed(let pending): "the server closed the connection; buffered: \(pending)"
            case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
            }
        }
    }

    private var descriptor: Int32
    /// Bytes received and not yet handed out.
    private var received: [UInt8] = []
    /// Whether the peer has closed its side.
    private(set) var peerClosed = false

    /// Connects to the socket at `path`.
    ///
    /// - Throws: ``Failure/system(_:_:)`` when nothing accepts there.
    convenience init(path: String) throws {
        let fd = try Self.streamSocket(AF_UNIX)
        let connected = ServerProcess.withUnixAddress(path) { connect(fd, $0, $1) }
        try self.init(fd, connected: connected, to: path)
    }

    /// Connects over TCP to `port` on 127.0.0.1 (an HTTP endpoint of the server).
    ///
    /// - Throws: ``Failure/system(_:_:)`` when nothing accepts there.
    convenience init(loopbackPort port: Int) throws {
        let fd = try Self.streamSocket(AF_INET)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try self.init(fd, connected: connected, to: "127.0.0.1:\(port)")
    }

    /// A new stream socket of `family`.
    private static func streamSocket(_ family: Int32) throws -> Int32 {
        #if canImport(Glibc)
            let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(family, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure.system("socket", errno) }
        return fd
    }

    /// Takes `fd` once `connect` returned `connected`, non-blocking; closes it when the connection failed.
    private init(_ fd: Int32, connected: Int32, to peer: String) throws {
        guard connected == 0 else {
            let code = errno
            posixClose(fd)
            throw Failure.system("connect \(peer)", code)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        descriptor = fd
    }

    deinit { close() }

    /// Closes the connection; idempotent.
    func close() {
        guard descriptor >= 0 else { return }
        posixClose(descriptor)
        descriptor = -1
    }

    /// Shuts the writing half, as `socat` does after its last request.
    func shutdownWrite() {
        _ = shutdown(descriptor, Int32(SHUT_WR))
    }

    // MARK: - Writing

    /// Sends all of `bytes`, reading whatever the server answers meanwhile
    /// so that neither side can block the other.
    ///
    /// The sending runs on a thread of its own, waiting in `poll(2)`, so a
    /// cooperative pool kept busy by other tests cannot starve it.
    ///
    /// - Parameter timeout: How long the server may take no byte at all
    ///   before the send fails: a stall, not the whole transfer, whose
    ///   time depends on how busy the machine is.
    func send(_ bytes: [UInt8], timeout: Duration = .seconds(60)) async throws {
        nonisolated(unsafe) let connection = self
        try await Self.offThePool { try connection.sendWaiting(bytes, stall: timeout) }
    }

    private func sendWaiting(_ bytes: [UInt8], stall timeout: Duration) throws {
        var deadline = ContinuousClock.now + timeout
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { raw in
                posixSend(descriptor, raw.baseAddress! + sent, min(bytes.count - sent, 1 << 20))
            }
            if count > 0 {
                sent += count
                deadline = ContinuousClock.now + timeout
                continue
            }
            let code = errno
            guard count < 0, code == EAGAIN || code == EWOULDBLOCK || code == EINTR else {
                throw Failure.closed(
                    "send failed (\(String(cString: strerror(code)))) after \(sent) of \(bytes.count) bytes")
            }
            if try fill() > 0 { deadline = ContinuousClock.now + timeout }
            guard ContinuousClock.now < deadline else { throw Failure.timedOut("sent \(sent) of \(bytes.count) bytes") }
            waitForSocket()
        }
    }

    /// Waits up to 50 ms until the socket can be written or read.
    private func waitForSocket() {
        var descriptors = pollfd(fd: descriptor, events: Int16(POLLOUT | POLLIN), revents: 0)
        _ = poll(&descriptors, 1, 50)
    }

    /// Runs `body` on a new thread and waits for it without holding a
    /// thread of the cooperative pool.
    private static func offThePool<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws
        -> Value
    {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// Sends `text` as UTF-8.
    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    /// Sends `request` serialized as one line.
    func send(line request: JSONValue) async throws {
        try await send(request.serialized() + [0x0a])
    }

    // MARK: - Reading

    /// The next line, without its newline.
    func readLine(timeout: Duration = .seconds(60)) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let newline = received.firstIndex(of: 0x0a) {
                let line = Array(received[..<newline])
                received.removeSubrange(...newline)
                return line
            }
            try await waitForBytes(until: deadline)
        }
    }

    /// The next line, parsed as JSON.
    func readJSON(timeout: Duration = .seconds(60)) async throws -> JSONValue {
        let line = try await readLine(timeout: timeout)
        do {
            return try JSONParser.parse(line)
        } catch {
            throw Failure.closed("an unparsable response line: \(String(decoding: line.prefix(300), as: UTF8.self))")
        }
    }

    /// Exactly `count` raw bytes (an attachment after a response line).
    func readBytes(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while received.count < count { try await waitForBytes(until: deadline) }
        defer { received.removeFirst(count) }
        return Array(received[..<count])
    }

    /// Sends a request line and reads one response line.
    func call(_ request: JSONValue, timeout: Duration = .seconds(60)) async throws -> JSONValue {
        try await send(line: request)
        return try await readJSON(timeout: timeout)
    }

    /// Sends `bytes` and reads `count` lines, writing and reading at once
    /// (for pipelines too long for the socket buffers). Fails when nothing
    /// moves either way for `timeout`.
    func exchange(_ bytes: [UInt8], lines count: Int, timeout: Duration = .seconds(60)) async throws -> [[UInt8]] {
        nonisolated(unsafe) let connection = self
        return try await Self.offThePool { try connection.exchangeWaiting(bytes, lines: count, stall: timeout) }
    }

    private func exchangeWaiting(_ bytes: [UInt8], lines count: Int, stall timeout: Duration) throws -> [[UInt8]] {
        var deadline = ContinuousClock.now + timeout
        var lines: [[UInt8]] = []
        lines.reserveCapacity(count)
        var sent = 0
        var scanned = 0
        while lines.count < count {
            var progressed = false
            if sent < bytes.count {
                let written = bytes.withUnsafeBytes { raw in
                    posixSend(descriptor, raw.baseAddress! + sent, min(bytes.count - sent, 256 << 10))
                }
                if written > 0 {
                    sent += written
                    progressed = true
                } else if written < 0, errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR {
                    throw Failure.closed("send failed after \(sent) bytes and \(lines.count) lines")
                }
            }
            if try fill() > 0 { progressed = true }
            var start = 0
            while let newline = received[scanned...].firstIndex(of: 0x0a) {
                lines.append(Array(received[start..<newline]))
                start = newline + 1
                scanned = start
            }
            if start > 0 {
                received.removeFirst(start)
                scanned -= start
            }
            scanned = received.count
            if lines.count >= count { break }
            if peerClosed { throw Failure.closed("after \(lines.count) of \(count) lines") }
            guard ContinuousClock.now < deadline else {
                throw Failure.timedOut("\(lines.count) of \(count) lines; sent \(sent) of \(bytes.count) bytes")
            }
            if progressed {
                deadline = ContinuousClock.now + timeout
            } else {
                waitForSocket()
            }
        }
        return lines
    }

    /// Whether no byte arrives for `duration` (the server is waiting).
    func staysSilent(for duration: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline {
            if try fill() > 0 || !received.isEmpty || peerClosed { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// Reads until the peer closes; `true` when it did within `timeout`.
    /// Bytes that arrive meanwhile stay readable with ``readLine(timeout:)``.
    func waitForClose(timeout: Duration = .seconds(10)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !peerClosed {
            guard ContinuousClock.now < deadline else { return false }
            if try fill() == 0 { try await Task.sleep(for: .milliseconds(2)) }
        }
        return true
    }

    /// Bytes buffered but not handed out yet.
    var pending: [UInt8] { received }

    /// When set, reads take at most `piece` bytes from the socket every
    /// `interval`: a client that reads slowly.
    var readPace: (piece: Int, interval: Duration)? {
        didSet { pacedReads = [(ContinuousClock.now, 0)] }
    }
    /// When each paced read ended and the bytes read by then.
    private var pacedReads: [(at: ContinuousClock.Instant, total: Int)] = []

    /// The longest time in which paced reads took fewer than `bytes` from
    /// the socket: longer than the pace suggests when the test itself was
    /// not scheduled.
    func longestPacedSpan(readingLessThan bytes: Int) -> Duration {
        var longest = Duration.zero
        var start = 0
        for end in pacedReads.indices {
            while pacedReads[end].total - pacedReads[start].total >= bytes { start += 1 }
            longest = max(longest, pacedReads[end].at - pacedReads[start].at)
        }
        return longest
    }

    private func waitForBytes(until deadline: ContinuousClock.Instant) async throws {
        while true {
            if let pace = readPace {
                try await Task.sleep(for: pace.interval)
                let count = try fill(limit: pace.piece)
                pacedReads.append((ContinuousClock.now, (pacedReads.last?.total ?? 0) + count))
                if count > 0 { return }
            } else if try fill() > 0 {
                return
            }
            if peerClosed { throw Failure.closed(describe(received)) }
            guard ContinuousClock.now < deadline else { throw Failure.timedOut(describe(received)) }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Reads what is available, up to `limit` bytes, without waiting; the
    /// number of bytes read.
    private func fill(limit: Int = .max) throws -> Int {
        guard !peerClosed else { return 0 }
        var total = 0
        var buffer = [UInt8](repeating: 0, count: min(256 << 10, limit))
        while total < limit {
            let count = buffer.withUnsafeMutableBytes {
                recv(descriptor, $0.baseAddress!, min($0.count, limit - total), 0)
            }
            if count > 0 {
                received.append(contentsOf: buffer[..<count])
                total += count
                continue
            }
            if count == 0 {
                peerClosed = true
                return total
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK: return total
            case EINTR: continue
            case ECONNRESET, EPIPE:
                peerClosed = true
                return total
            default: throw Failure.system("recv", errno)
            }
        }
        return total
    }

    private func describe(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(400), as: UTF8.self)
        return bytes.count > 400 ? "\(text)… (\(bytes.count) bytes)" : "\(text) (\(bytes.count) bytes)"
    }
}

/// `close(2)`, named apart from ``RawSocket/close()``.
private func posixClose(_ fd: Int32) {
    close(fd)
}

/// `send(2)` without SIGPIPE, named apart from ``RawSocket/send(_:timeout:)``.
private func posixSend(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
        send(fd, bytes, count, Int32(MSG_NOSIGNAL))
    #else
        send(fd, bytes, count, 0)
    #endif
}
