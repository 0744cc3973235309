#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a TCP endpoint of Cairn listens (the metrics endpoint of `cairn
/// serve --metrics-listen`, the console of `cairn web --listen`): a literal
/// IP address and a port, written `127.0.0.1:9464`, `[::1]:9464` or
/// `localhost:9464`.
///
/// Both endpoints are for the host itself: ``isLoopback`` tells whether the
/// address is on the loopback interface only, and each command refuses any
/// other address unless its operator forces it. Host names other than
/// `localhost` are not accepted: what a name resolves to can change, and
/// with it who can connect.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The IP address in its usual text form, without brackets.
    public let host: String
    /// The TCP port; 0 has the system pick a free one.
    public let port: Int

    /// Why a text is not a listen address.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// An address as given, unchecked: `host` in the form ``host`` has.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Reads `IPV4:PORT`, `[IPV6]:PORT` or `localhost:PORT` (`localhost` is
    /// `127.0.0.1`).
    public init(parsing text: String) throws(ParseError) {
        var host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let end = text.firstIndex(of: "]") else {
                throw ParseError(description: "'\(text)' has no ']' closing its IPv6 address")
            }
            host = text[text.index(after: text.startIndex)..<end]
            let rest = text[text.index(after: end)...]
            guard rest.first == ":" else { throw ParseError(description: "'\(text)' has no :PORT after ']'") }
            port = rest.dropFirst()
            guard Self.canonical(host, family: AF_INET6) != nil else {
                throw ParseError(description: "'\(host)' is not an IPv6 address")
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ParseError(description: "'\(text)' is not HOST:PORT")
            }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            if host == "localhost" { host = "127.0.0.1" }
            guard Self.canonical(host, family: AF_INET) != nil else {
                throw ParseError(
                    description: "'\(host)' is not an IPv4 address or localhost (an IPv6 address goes in brackets)")
            }
        }
        guard (1...5).contains(port.count), port.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let number = Int(port), number <= 65535
        else {
            throw ParseError(description: "'\(port)' is not a TCP port (0 to 65535)")
        }
        self.init(host: Self.canonical(host, family: host.contains(":") ? AF_INET6 : AF_INET)!, port: number)
    }

    /// Whether only this host can connect: 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        host.contains(":") ? host == "::1" : host.hasPrefix("127.")
    }

    /// `HOST:PORT`, with an IPv6 address in brackets: the authority of a URL.
    public var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The ``authority``.
    public var description: String { authority }

    /// The address in the system's text form (`inet_ntop` of `inet_pton`), or `nil` when it is not one.
    private static func canonical(_ text: Substring, family: Int32) -> String? {
        var address = in6_addr()  // large enough for either family
        guard String(text).withCString({ inet_pton(family, $0, &address) }) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(family, &address, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
