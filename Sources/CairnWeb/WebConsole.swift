import CairnClient
import CairnProtocol
import HTTPTypes
import Hummingbird
import ListenAddresses
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The web console: an HTTP server on a loopback address that serves the
/// page (embedded in the binary) and a small JSON API over ``ConsoleAPI``.
///
/// Every request passes the ``RequestGate`` first (its `Host`, its session,
/// and for changes its origin and CSRF token); the one-time token of
/// ``ConsoleSessions`` is exchanged for an HttpOnly, SameSite=Strict
/// session cookie at `GET /?token=…`, which then redirects to `/`. The
/// console holds no grant of its own: it reaches `cairn serve` over the
/// Unix socket as the user who started it, and the server decides.
///
/// ```swift
/// let console = WebConsole(configuration: .init(listen: try ListenAddress(parsing: "127.0.0.1:0"), socketPath: path))
/// try await console.run { url in print(url) }
/// ```
public final class WebConsole: Sendable {
    /// What a console serves and how.
    public struct Configuration: Sendable {
        /// Where to listen; port 0 picks a free one.
        public var listen: ListenAddress
        /// The server's socket.
        public var socketPath: String
        /// How long sessions last.
        public var sessions: ConsoleSessions.Configuration
        /// More `Host` values to accept besides the bound address (see ``RequestGate/init(listeningOn:otherHosts:)``).
        public var otherHosts: [String]
        /// Test hook (`cairn web --test-drop-upload-after N`): after storing
        /// the N-th posted upload piece, close the connection instead of
        /// answering, as a network that fails would. `nil` in real use.
        public var dropUploadAfterPieces: Int?

        /// A console for `socketPath` on `listen`.
        public init(
            listen: ListenAddress, socketPath: String, sessions: ConsoleSessions.Configuration = .init(),
            otherHosts: [String] = [], dropUploadAfterPieces: Int? = nil
        ) {
            self.listen = listen
            self.socketPath = socketPath
            self.sessions = sessions
            self.otherHosts = otherHosts
            self.dropUploadAfterPieces = dropUploadAfterPieces
        }
    }

    /// What the console serves and how.
    public let configuration: Configuration
    /// The login token and the sessions.
    public let sessions: ConsoleSessions
    let api: ConsoleAPI
    /// The gate, once the port is known.
    private let gate = Mutex<RequestGate?>(nil)
    /// Upload pieces stored so far (for ``Configuration/dropUploadAfterPieces``).
    private let piecesStored = Atomic<Int>(0)

    /// - Parameters:
    ///   - clock: the time sessions expire by; tests move it by hand.
    ///   - loginToken: the one-time token; random when `nil`.
    public init(configuration: Configuration, clock: ConsoleClock = .continuous, loginToken: String? = nil) {
        self.configuration = configuration
        sessions = ConsoleSessions(loginToken: loginToken, configuration: configuration.sessions, clock: clock)
        api = ConsoleAPI(socketPath: configuration.socketPath)
    }

    /// Serves until the task is cancelled (or, with `gracefulShutdownSignals`, until one arrives).
    ///
    /// - Parameters:
    ///   - onListening: called once with the console's URL, token included, when it accepts connections.
    public func run(
        gracefulShutdownSignals: [UnixSignal] = [], logger: Logger? = nil,
        onListening: @escaping @Sendable (String) async -> Void
    ) async throws {
        let router = Router(context: ConsoleRequestContext.self)
        router.add(middleware: ConsoleMiddleware(console: self))
        addRoutes(to: router)
        var quiet = Logger(label: "cairn.web")
        quiet.logLevel = .warning
        let address = configuration.listen
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                let bound = ListenAddress(host: address.host, port: port)
                self.gate.withLock { $0 = RequestGate(listeningOn: bound, otherHosts: self.configuration.otherHosts) }
                await onListening("http://\(bound.authority)/?token=\(self.sessions.loginToken)")
            },
            logger: logger ?? quiet
        )
        try await app.runService(gracefulShutdownSignals: gracefulShutdownSignals)
    }

    /// The gate; `nil` only before the server is bound.
    var currentGate: RequestGate? { gate.withLock { $0 } }

    /// The session cookie's name: one per port, so consoles on the same host keep apart.
    func cookieName(port: Int) -> String { "cairn_session_\(port)" }

    /// Counts a stored upload piece; true when the test hook says to drop this answer.
    func shouldDropAfterPiece() -> Bool {
        guard let limit = configuration.dropUploadAfterPieces else { return false }
        return piecesStored.add(1, ordering: .relaxed).newValue == limit
    }
}

/// A request's context: Hummingbird's, and the session the gate found.
struct ConsoleRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The request's session, set by ``ConsoleMiddleware`` (nil for the login and the assets).
    var session: ConsoleSessions.Session?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        session = nil
    }

    var maxUploadSize: Int { ConsoleAPI.maxPostedChunk }
}

/// Runs the gate before every route, renders every refusal and failure,
/// and adds the security headers to every response.
struct ConsoleMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext
    let console: WebConsole

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        var response: Response
        do {
            response = try await guarded(request, context: context, next: next)
        } catch let error as ConsoleError {
            response = Self.refusal(error, page: !path.hasPrefix("/api/"))
        } catch let error as HTTPError {
            response = Self.refusal(
                ConsoleError(status: Int(error.status.code), code: "WEB_NOT_FOUND", "no such page: \(path)"),
                page: !path.hasPrefix("/api/"))
        } catch {
            response = Self.refusal(ConsoleError.from(error), page: !path.hasPrefix("/api/"))
        }
        Self.secure(&response.headers)
        return response
    }

    private func guarded(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let gate = console.currentGate else {
            throw ConsoleError(status: 503, code: "WEB_STARTING", "the console is starting")
        }
        let port = gate.address.port
        let parts = RequestGate.Request(
            method: request.method.rawValue, host: request.head.authority,
            origin: request.headers[.origin], csrfToken: request.headers[HTTPField.Name("X-Cairn-CSRF")!])
        try gate.checkHost(parts)
        let path = request.uri.path
        if path.hasPrefix("/assets/") { return try await next(request, context) }
        if path == "/", request.method == .get, let token = request.uri.queryParameters.get("token") {
            return try login(token: token, cookieName: console.cookieName(port: port))
        }
        let cookie = request.cookies[console.cookieName(port: port)]?.value
        let session = try gate.session(cookie: cookie, in: console.sessions)
        try gate.checkSameOrigin(parts, session: session)
        var context = context
        context.session = session
        return try await next(request, context)
    }

    /// `GET /?token=…`: a session cookie and a redirect to the URL without the token.
    private func login(token: String, cookieName: String) throws(ConsoleError) -> Response {
        switch console.sessions.exchange(token: token) {
        case .wrong: throw ConsoleError.wrongToken
        case .spent: throw ConsoleError.spentToken
        case .session(let session):
            var response = Response(status: .seeOther, headers: [.location: "/"])
            response.setCookie(
                Cookie(name: cookieName, value: session.id, path: "/", httpOnly: true, sameSite: .strict))
            return response
        }
    }

    /// A refusal: JSON for the API, a small page (no script) otherwise.
    static func refusal(_ error: ConsoleError, page: Bool) -> Response {
        let status = HTTPResponse.Status(code: error.status)
        guard page else { return ConsoleRoutes.json(error.json, status: status) }
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Cairn console</title>
            <link rel="stylesheet" href="/assets/console.css"></head>
            <body><main><h1>Cairn console</h1>
            <p class="error" role="alert" data-testid="message">\(escapeHTML(error.code)): \(escapeHTML(error.message))</p>
            </main></body></html>

            """
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The headers every answer carries: no inline script or style, nothing from another host, no framing.
    static func secure(_ headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "same-origin"
    }
}

/// Escapes text for HTML.
func escapeHTML(_ text: String) -> String {
    var out = ""
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(character)
        }
    }
    return out
}
