/// Where the console listens: an IP address and a TCP port, as
/// `127.0.0.1:8080` or `[::1]:8080` (`localhost:8080` means `127.0.0.1`).
///
/// A console is loopback-only unless its user insists: ``isLoopback`` tells
/// which, and `cairn web` refuses any other address without `--allow-remote`.
/// Host names other than `localhost` are refused: they would make the
/// address depend on name resolution, and a console never needs one.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The IP address, without brackets (`127.0.0.1`, `::1`).
    public var host: String
    /// The TCP port; 0 lets the system pick a free one.
    public var port: Int

    /// Why text is not a listen address.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong, for a usage message.
        public let description: String
    }

    /// An address as it is: `host` an IP address without brackets.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[V6]:PORT` or `localhost:PORT`.
    public init(parsing text: String) throws(ParseError) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ParseError(description: "'\(text)' is not [ADDRESS]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
            guard Self.isIPv6(host) else { throw ParseError(description: "'\(host)' is not an IPv6 address") }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ParseError(description: "'\(text)' is not ADDRESS:PORT")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard host == "localhost" || Self.isIPv4(host) else {
                throw ParseError(description: "'\(host)' is not an IPv4 address (use [ADDRESS] for IPv6)")
            }
        }
        guard !portText.isEmpty, portText.allSatisfy(\.isASCIIDigit), portText.count <= 5, let port = Int(portText),
            port <= 65535
        else {
            throw ParseError(description: "'\(portText)' is not a port (0-65535)")
        }
        self.host = host == "localhost" ? "127.0.0.1" : String(host).lowercased()
        self.port = port
    }

    /// Whether the address is on the loopback interface only (127.0.0.0/8 or ::1).
    public var isLoopback: Bool {
        if host.contains(":") { return host == "::1" || host == "0:0:0:0:0:0:0:1" }
        return host.split(separator: ".").first == "127"
    }

    /// The address as a URL authority: `127.0.0.1:8080`, `[::1]:8080`.
    public var authority: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The ``authority``.
    public var description: String { authority }

    private static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCIIDigit) && Int(part)! <= 255
            }
    }

    private static func isIPv6(_ text: Substring) -> Bool {
        !text.isEmpty && text.contains(":") && text.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
