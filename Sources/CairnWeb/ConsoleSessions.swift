import Synchronization

/// The time the console's sessions are measured in, injected so that tests
/// move it by hand instead of waiting.
public struct ConsoleClock: Sendable {
    /// The time now, from any fixed origin.
    public let now: @Sendable () -> Duration

    /// A clock that reads `now`.
    public init(now: @escaping @Sendable () -> Duration) {
        self.now = now
    }

    /// The monotonic clock of the process.
    public static let continuous: ConsoleClock = {
        let origin = ContinuousClock.now
        return ConsoleClock { ContinuousClock.now - origin }
    }()
}

/// The console's one-time login token and the browser sessions it was
/// exchanged for.
///
/// `cairn web` prints its URL with a random token once. The first request
/// that shows it gets a session (a random id for an HttpOnly cookie, and a
/// random CSRF token the page sends with every change); the token is then
/// spent, so a URL copied from a terminal, a shell history or a proxy log
/// is worth nothing afterwards. A session ends after ``Configuration/idleTimeout``
/// without a request, and in any case after ``Configuration/maxLifetime``.
///
/// Pure state: no I/O, time from the injected ``ConsoleClock``.
public final class ConsoleSessions: Sendable {
    /// How long sessions last.
    public struct Configuration: Sendable {
        /// A session unused this long is gone.
        public var idleTimeout: Duration
        /// A session older than this is gone, however busy.
        public var maxLifetime: Duration

        /// Eight hours idle, seven days at most, unless told otherwise.
        public init(idleTimeout: Duration = .seconds(8 * 3600), maxLifetime: Duration = .seconds(7 * 24 * 3600)) {
            self.idleTimeout = idleTimeout
            self.maxLifetime = maxLifetime
        }
    }

    /// A browser's session.
    public struct Session: Sendable, Equatable {
        /// The cookie's value.
        public let id: String
        /// What the page sends in `X-Cairn-CSRF` with every change.
        public let csrfToken: String
        let created: Duration
        var lastUsed: Duration
    }

    /// What a session cookie turned out to be.
    public enum Lookup: Sendable, Equatable {
        case valid(Session)
        /// It was a session, and it timed out (and is now forgotten).
        case expired
        /// No session of this console has that id.
        case unknown
    }

    /// What a login token turned out to be.
    public enum Exchange: Sendable, Equatable {
        /// The token was right and unspent: here is the new session.
        case session(Session)
        /// The token was right but already exchanged.
        case spent
        /// Not the token.
        case wrong
    }

    private struct State {
        var tokenSpent = false
        var sessions: [String: Session] = [:]
    }

    /// The one-time login token printed in the console's URL.
    public let loginToken: String
    /// How long sessions last.
    public let configuration: Configuration
    private let clock: ConsoleClock
    private let state = Mutex(State())

    /// - Parameters:
    ///   - loginToken: the token; a fresh random one when `nil`.
    public init(loginToken: String? = nil, configuration: Configuration = Configuration(), clock: ConsoleClock) {
        self.loginToken = loginToken ?? Self.randomToken()
        self.configuration = configuration
        self.clock = clock
    }

    /// Exchanges the login token for a session, once.
    public func exchange(token: String) -> Exchange {
        guard constantTimeEqual(token, loginToken) else { return .wrong }
        let now = clock.now()
        return state.withLock { state in
            guard !state.tokenSpent else { return .spent }
            state.tokenSpent = true
            let session = Session(id: Self.randomToken(), csrfToken: Self.randomToken(), created: now, lastUsed: now)
            state.sessions[session.id] = session
            return .session(session)
        }
    }

    /// The session with cookie value `id`, which this request keeps alive.
    public func session(id: String) -> Lookup {
        let now = clock.now()
        return state.withLock { state in
            guard let key = state.sessions.keys.first(where: { constantTimeEqual($0, id) }),
                var session = state.sessions[key]
            else { return .unknown }
            if now - session.lastUsed >= configuration.idleTimeout || now - session.created >= configuration.maxLifetime
            {
                state.sessions[key] = nil
                return .expired
            }
            session.lastUsed = now
            state.sessions[key] = session
            return .valid(session)
        }
    }

    /// 32 random bytes as 64 hex digits, from the system's CSPRNG.
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        text.reserveCapacity(64)
        for _ in 0..<4 {
            let word = generator.next() as UInt64
            let hex = String(word, radix: 16)
            text += String(repeating: "0", count: 16 - hex.count) + hex
        }
        return text
    }
}

/// Compares two secrets in time that depends on their lengths only.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for index in x.indices { difference |= x[index] ^ y[index] }
    return difference == 0
}
