import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An HTTP peer on 127.0.0.1 that answers each connection's first request from a script — an
/// answer, or a closed connection — to drive the client's retries over real sockets.
///
/// One request per connection (each answer says `Connection: close`); requests without a body
/// only. Once the script is used up it answers 500 with no S3 code.
final class ScriptedPeer: Sendable {
    enum Step: Sendable {
        /// Reads the request, then closes the connection without a word.
        case close
        /// Reads the request, then answers with this status, these headers and this body.
        case answer(status: Int, headers: [String: String] = [:], body: String = "")
    }

    let port: Int
    private let listener: Int32
    private let state: Mutex<(steps: [Step], requests: [String])>

    init(_ steps: [Step]) throws {
        state = Mutex((steps: steps, requests: []))
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard listening, listen(descriptor, 16) == 0 else {
            close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        listener = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in serve() }
    }

    /// Stops accepting (the accept loop wakes and ends).
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
    }

    /// The request lines received so far, e.g. `GET /bucket/key HTTP/1.1`.
    var requests: [String] { state.withLock { $0.requests } }

    private func serve() {
        defer { close(listener) }
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while received.endOfHead == nil {
                let count = read(connection, &buffer, buffer.count)
                guard count > 0 else { break }
                received += buffer[0..<count]
            }
            // The body too (Content-Length): closing on unread bytes would reset the connection.
            let head = String(decoding: received, as: UTF8.self).lowercased()
            let bodyLength =
                head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            var bodyRead = received.count - (received.endOfHead ?? received.count)
            while bodyRead < bodyLength {
                let count = read(connection, &buffer, min(buffer.count, bodyLength - bodyRead))
                guard count > 0 else { break }
                bodyRead += count
            }
            let requestLine = String(decoding: received.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
            let step = state.withLock { state -> Step in
                state.requests.append(requestLine)
                return state.steps.isEmpty ? .answer(status: 500) : state.steps.removeFirst()
            }
            if case .answer(let status, let headers, let body) = step {
                var text = "HTTP/1.1 \(status) Scripted\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n"
                for (name, value) in headers { text += "\(name): \(value)\r\n" }
                text += "\r\n" + body
                let bytes = Array(text.utf8)
                _ = bytes.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            }
            close(connection)
        }
    }
}

extension Array where Element == UInt8 {
    /// The offset just past the first `\r\n\r\n`, if there is one.
    fileprivate var endOfHead: Int? {
        guard count >= 4 else { return nil }
        for index in 0...(count - 4) where self[index..<(index + 4)].elementsEqual("\r\n\r\n".utf8) {
            return index + 4
        }
        return nil
    }
}
