import CairnWeb
import ListenAddresses
import Testing

/// Host, session and same-origin checks, as pure decisions.
@Suite struct RequestGateTests {
    let gate = RequestGate(listeningOn: ListenAddress(host: "127.0.0.1", port: 8123))

    @Test func theConsolesOwnHostPasses() throws {
        try gate.checkHost(.init(method: "GET", host: "127.0.0.1:8123"))
        try gate.checkHost(.init(method: "GET", host: "localhost:8123"))
        try gate.checkHost(.init(method: "GET", host: "LOCALHOST:8123"))
    }

    @Test(arguments: [
        nil, "", "evil.example:8123", "127.0.0.1", "127.0.0.1:8124", "localhost", "127.0.0.2:8123", "[::1]:8123",
    ])
    func anyOtherHostIsRefused(host: String?) {
        #expect(throws: ConsoleError.foreignHost(host)) { try gate.checkHost(.init(method: "GET", host: host)) }
    }

    @Test func aNonLoopbackConsoleAcceptsOnlyItsAddress() throws {
        let gate = RequestGate(listeningOn: ListenAddress(host: "192.0.2.7", port: 80))
        try gate.checkHost(.init(method: "GET", host: "192.0.2.7:80"))
        #expect(throws: ConsoleError.self) { try gate.checkHost(.init(method: "GET", host: "localhost:80")) }
    }

    @Test func otherHostsAreAcceptedWhenNamed() throws {
        let gate = RequestGate(
            listeningOn: ListenAddress(host: "0.0.0.0", port: 8470),
            otherHosts: ["cairn.example.internal", "Gateway.Example:443", "[2001:db8::1]"])
        try gate.checkHost(.init(method: "GET", host: "cairn.example.internal:8470"))
        try gate.checkHost(.init(method: "GET", host: "gateway.example:443"))
        try gate.checkHost(.init(method: "GET", host: "[2001:db8::1]:8470"))
        #expect(throws: ConsoleError.self) { try gate.checkHost(.init(method: "GET", host: "cairn.example.internal")) }
        #expect(throws: ConsoleError.self) { try gate.checkHost(.init(method: "GET", host: "gateway.example:8470")) }
        let session = try session()
        try gate.checkSameOrigin(
            .init(
                method: "POST", host: "gateway.example:443", origin: "http://gateway.example:443",
                csrfToken: session.csrfToken),
            session: session)
    }

    @Test func anIPv6LoopbackConsoleAcceptsItsBracketedAddress() throws {
        let gate = RequestGate(listeningOn: ListenAddress(host: "::1", port: 9000))
        try gate.checkHost(.init(method: "GET", host: "[::1]:9000"))
        try gate.checkHost(.init(method: "GET", host: "localhost:9000"))
    }

    @Test func changesNeedTheCSRFTokenAndTheOwnOrigin() throws {
        let session = try session()
        let csrf = session.csrfToken
        // Reads pass without either.
        try gate.checkSameOrigin(.init(method: "GET", host: "127.0.0.1:8123"), session: session)
        // A change with the token, from the console's page or without Origin, passes.
        try gate.checkSameOrigin(
            .init(method: "POST", host: "127.0.0.1:8123", origin: "http://127.0.0.1:8123", csrfToken: csrf),
            session: session)
        try gate.checkSameOrigin(
            .init(method: "PUT", host: "127.0.0.1:8123", origin: "http://localhost:8123", csrfToken: csrf),
            session: session)
        try gate.checkSameOrigin(.init(method: "DELETE", host: "127.0.0.1:8123", csrfToken: csrf), session: session)
        // Another origin is refused even with the token; no token is refused even from the own origin.
        #expect(throws: ConsoleError.crossOrigin("http://evil.example")) {
            try gate.checkSameOrigin(
                .init(method: "POST", host: "127.0.0.1:8123", origin: "http://evil.example", csrfToken: csrf),
                session: session)
        }
        #expect(throws: ConsoleError.crossOrigin("null")) {
            try gate.checkSameOrigin(
                .init(method: "POST", host: "127.0.0.1:8123", origin: "null", csrfToken: csrf), session: session)
        }
        #expect(throws: ConsoleError.csrfTokenMissing) {
            try gate.checkSameOrigin(
                .init(method: "POST", host: "127.0.0.1:8123", origin: "http://127.0.0.1:8123"), session: session)
        }
        #expect(throws: ConsoleError.csrfTokenMissing) {
            try gate.checkSameOrigin(
                .init(method: "POST", host: "127.0.0.1:8123", csrfToken: String(csrf.reversed())), session: session)
        }
    }

    @Test func aSessionCookieIsLookedUp() throws {
        let time = ManualTime()
        let sessions = ConsoleSessions(
            loginToken: "t", configuration: .init(idleTimeout: .seconds(10)), clock: time.clock)
        guard case .session(let session) = sessions.exchange(token: "t") else { throw GateError() }
        #expect(try gate.session(cookie: session.id, in: sessions) == session)
        #expect(throws: ConsoleError.loginRequired) { try gate.session(cookie: nil, in: sessions) }
        #expect(throws: ConsoleError.unknownSession) { try gate.session(cookie: "nope", in: sessions) }
        time.advance(by: .seconds(10))
        #expect(throws: ConsoleError.sessionExpired) { try gate.session(cookie: session.id, in: sessions) }
    }

    private func session() throws -> ConsoleSessions.Session {
        let sessions = ConsoleSessions(loginToken: "t", clock: ManualTime().clock)
        guard case .session(let session) = sessions.exchange(token: "t") else { throw GateError() }
        return session
    }

    struct GateError: Error {}
}
