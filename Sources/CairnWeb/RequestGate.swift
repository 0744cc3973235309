import ListenAddresses

/// The checks every request to the console passes before it reaches a
/// route, as pure decisions over the request's few relevant parts.
///
/// - **Host.** A request must name the console's own address in `Host`
///   (`127.0.0.1:PORT`, or `localhost:PORT` / `[::1]:PORT` for a loopback
///   console). A page of another site that re-points its DNS name at
///   127.0.0.1 (DNS rebinding) sends its own name and is refused.
/// - **Session.** Everything but the login and the static assets needs the
///   session cookie (``ConsoleSessions``).
/// - **Same origin.** A change (any method but GET and HEAD) must carry the
///   session's CSRF token in `X-Cairn-CSRF`, and if the browser sent
///   `Origin`, it must be the console's own. A form or script of another
///   origin can do neither.
///
/// The gate holds no state; ``ConsoleSessions`` holds the sessions.
public struct RequestGate: Sendable {
    /// The address the console is bound to.
    public let address: ListenAddress
    /// The `Host` values accepted, lowercased.
    public let allowedHosts: Set<String>
    /// The `Origin` values accepted.
    public let allowedOrigins: Set<String>

    /// The gate of a console bound to `address` (with its real port, not 0).
    ///
    /// - Parameter otherHosts: more `Host` values to accept (`cairn web --allow-host`), for a
    ///   console reached by a name or through an address other than the one it is bound to
    ///   (a wildcard address, a port forwarded to another number); `NAME` alone means `NAME:PORT`.
    public init(listeningOn address: ListenAddress, otherHosts: [String] = []) {
        self.address = address
        var hosts: Set<String> = [address.authority.lowercased()]
        if address.isLoopback { hosts.insert("localhost:\(address.port)") }
        for host in otherHosts.map({ $0.lowercased() }) where !host.isEmpty {
            let hasPort = host.hasPrefix("[") ? host.contains("]:") : host.contains(":")
            hosts.insert(hasPort ? host : "\(host):\(address.port)")
        }
        allowedHosts = hosts
        allowedOrigins = Set(hosts.map { "http://\($0)" })
    }

    /// The parts of a request the gate looks at.
    public struct Request: Sendable {
        /// The HTTP method, e.g. `POST`.
        public var method: String
        /// `Host` (the request's authority).
        public var host: String?
        /// `Origin`, when the browser sent it.
        public var origin: String?
        /// `X-Cairn-CSRF`.
        public var csrfToken: String?

        /// The parts of one request.
        public init(method: String, host: String?, origin: String? = nil, csrfToken: String? = nil) {
            self.method = method
            self.host = host
            self.origin = origin
            self.csrfToken = csrfToken
        }

        /// Whether the request may change something: any method but GET and HEAD.
        public var isChange: Bool { method != "GET" && method != "HEAD" }
    }

    /// Refuses a request whose `Host` is not the console's.
    public func checkHost(_ request: Request) throws(ConsoleError) {
        guard let host = request.host?.lowercased(), allowedHosts.contains(host) else {
            throw ConsoleError.foreignHost(request.host)
        }
    }

    /// Refuses a change that does not come from the console's own page of `session`.
    public func checkSameOrigin(_ request: Request, session: ConsoleSessions.Session) throws(ConsoleError) {
        guard request.isChange else { return }
        if let origin = request.origin, !allowedOrigins.contains(origin.lowercased()) {
            throw ConsoleError.crossOrigin(origin)
        }
        guard let token = request.csrfToken, constantTimeEqual(token, session.csrfToken) else {
            throw ConsoleError.csrfTokenMissing
        }
    }

    /// The session a cookie value names, or why there is none.
    public func session(cookie: String?, in sessions: ConsoleSessions) throws(ConsoleError) -> ConsoleSessions.Session {
        guard let cookie, !cookie.isEmpty else { throw ConsoleError.loginRequired }
        switch sessions.session(id: cookie) {
        case .valid(let session): return session
        case .expired: throw ConsoleError.sessionExpired
        case .unknown: throw ConsoleError.unknownSession
        }
    }
}
