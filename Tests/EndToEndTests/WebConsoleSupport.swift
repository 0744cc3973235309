import CairnWeb
import Foundation
import ListenAddresses
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One HTTP/1.1 exchange over a new TCP connection, written by hand so that
/// a test can send exactly the headers a browser, or an attacker, would
/// (a foreign `Host`, another `Origin`, a stolen cookie).
///
/// Test-side only: the console itself is Hummingbird's.
struct HTTPProbe {
    /// What came back.
    struct Answer: CustomStringConvertible {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]

        /// The first value of header `name`, any case.
        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        /// Every value of header `name`.
        func headers(_ name: String) -> [String] {
            headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
        }

        var text: String { String(decoding: body, as: UTF8.self) }

        /// `error.code` of a JSON refusal.
        var errorCode: String? {
            guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                let error = json["error"] as? [String: Any]
            else { return nil }
            return error["code"] as? String
        }

        var description: String { "HTTP \(status) \(headers) \(text.prefix(400))" }
    }

    struct ProbeError: Error, CustomStringConvertible {
        var description: String
    }

    let port: Int

    /// Sends one request and reads its answer, on a thread of its own: the
    /// socket calls block, and the console answers on the test's own
    /// concurrency pool.
    func send(
        _ method: String, _ target: String, host: String? = nil, headers: [(String, String)] = [], body: [UInt8] = []
    ) async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    with: Result { try exchange(method, target, host: host, headers: headers, body: body) })
            }
        }
    }

    private func exchange(
        _ method: String, _ target: String, host: String?, headers: [(String, String)], body: [UInt8]
    ) throws -> Answer {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProbeError(description: "socket: \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ProbeError(description: "connect to port \(port): \(errno)") }
        var head = "\(method) \(target) HTTP/1.1\r\n"
        if let host = host ?? "127.0.0.1:\(port)" as String?, !host.isEmpty { head += "Host: \(host)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        var bytes = Array(head.utf8) + body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw ProbeError(description: "write: \(errno)") }
            sent += n
        }
        bytes = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !Self.isComplete(bytes) {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 { throw ProbeError(description: "read: \(errno) after \(bytes.count) bytes") }
            if n == 0 { break }
            bytes += buffer[..<n]
        }
        return try Self.parse(bytes)
    }

    /// Whether `bytes` hold a whole response: the head, and the body its Content-Length or chunks announce.
    static func isComplete(_ bytes: [UInt8]) -> Bool {
        guard let answer = try? parse(bytes) else { return false }
        if let length = answer.header("Content-Length").flatMap(Int.init) { return answer.body.count >= length }
        if answer.header("Transfer-Encoding")?.lowercased() == "chunked" {
            return bytes.suffix(5) == [0x30, 13, 10, 13, 10]
        }
        return false
    }

    /// Parses a whole HTTP/1.1 response (Content-Length or chunked).
    static func parse(_ bytes: [UInt8]) throws -> Answer {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
            throw ProbeError(description: "no HTTP head in \(bytes.count) bytes")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw ProbeError(description: "bad status line \(lines[0])")
        }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body = Array(bytes[(end + 4)...])
        if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased() == "chunked" }) {
            var out: [UInt8] = []
            var index = 0
            while let lineEnd = (index..<max(index, body.count - 1)).first(where: {
                body[$0] == 13 && body[$0 + 1] == 10
            }),
                let size = Int(String(decoding: body[index..<lineEnd], as: UTF8.self), radix: 16), size > 0
            {
                out += body[(lineEnd + 2)..<min(body.count, lineEnd + 2 + size)]
                index = lineEnd + 2 + size + 2
            }
            body = out
        }
        return Answer(status: status, headers: headers, body: body)
    }
}

/// A clock moved by hand, for session expiry without waiting.
final class ManualConsoleTime: Sendable {
    private let current = Mutex<Duration>(.zero)

    var clock: ConsoleClock { ConsoleClock { self.current.withLock { $0 } } }

    func advance(by duration: Duration) {
        current.withLock { $0 += duration }
    }
}

/// A ``WebConsole`` running in this process against a real server, on a free port.
final class InProcessConsole {
    let console: WebConsole
    let url: String
    let port: Int
    let token: String
    private let task: Task<Void, any Error>

    private init(console: WebConsole, url: String, task: Task<Void, any Error>) {
        self.console = console
        self.url = url
        self.task = task
        let authority = url.dropFirst("http://".count).prefix { $0 != "/" }
        port = Int(authority.split(separator: ":").last ?? "") ?? 0
        token = String(url.split(separator: "token=").last ?? "")
    }

    /// Starts a console on 127.0.0.1:0 for `socketPath` and waits until it listens.
    static func start(
        socketPath: String, clock: ConsoleClock, sessions: ConsoleSessions.Configuration = .init()
    ) async throws -> InProcessConsole {
        let console = WebConsole(
            configuration: .init(
                listen: ListenAddress(host: "127.0.0.1", port: 0), socketPath: socketPath, sessions: sessions),
            clock: clock)
        let (urls, continuation) = AsyncStream.makeStream(of: String.self)
        let task = Task {
            try await console.run { url in continuation.yield(url) }
        }
        var iterator = urls.makeAsyncIterator()
        guard let url = await iterator.next() else {
            throw HTTPProbe.ProbeError(description: "the console did not start")
        }
        return InProcessConsole(console: console, url: url, task: task)
    }

    deinit {
        task.cancel()
    }

    var probe: HTTPProbe { HTTPProbe(port: port) }

    /// Logs in with the token: the session cookie (`name=value`) and the CSRF token.
    func login() async throws -> (cookie: String, csrf: String) {
        let answer = try await probe.send("GET", "/?token=\(token)")
        guard answer.status == 303, let setCookie = answer.header("Set-Cookie") else {
            throw HTTPProbe.ProbeError(description: "login failed: \(answer)")
        }
        let cookie = String(setCookie.prefix { $0 != ";" })
        let session = try await probe.send("GET", "/api/session", headers: [("Cookie", cookie)])
        guard let json = try JSONSerialization.jsonObject(with: Data(session.body)) as? [String: Any],
            let csrf = json["csrfToken"] as? String
        else { throw HTTPProbe.ProbeError(description: "no session: \(session)") }
        return (cookie, csrf)
    }
}
