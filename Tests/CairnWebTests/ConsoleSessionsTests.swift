import CairnWeb
import Testing

/// The one-time token and the sessions it is exchanged for, with time moved by hand.
@Suite struct ConsoleSessionsTests {
    @Test func theTokenIsExchangedOnce() {
        let sessions = ConsoleSessions(loginToken: "secret", clock: ManualTime().clock)
        guard case .session(let session) = sessions.exchange(token: "secret") else {
            Issue.record("the right token gave no session")
            return
        }
        #expect(session.id.count == 64 && session.csrfToken.count == 64 && session.id != session.csrfToken)
        #expect(sessions.exchange(token: "secret") == .spent)
        #expect(sessions.session(id: session.id) == .valid(session))
    }

    @Test func aWrongTokenGivesNothingAndDoesNotSpendTheRightOne() {
        let sessions = ConsoleSessions(loginToken: "secret", clock: ManualTime().clock)
        #expect(sessions.exchange(token: "secreT") == .wrong)
        #expect(sessions.exchange(token: "") == .wrong)
        #expect(sessions.exchange(token: "secret-and-more") == .wrong)
        guard case .session = sessions.exchange(token: "secret") else {
            Issue.record("the right token was spent by wrong ones")
            return
        }
    }

    @Test func anUnknownCookieIsNoSession() {
        let sessions = ConsoleSessions(loginToken: "secret", clock: ManualTime().clock)
        #expect(sessions.session(id: "0123") == .unknown)
    }

    @Test func aSessionExpiresAfterItsIdleTimeout() throws {
        let time = ManualTime()
        let sessions = ConsoleSessions(
            loginToken: "t", configuration: .init(idleTimeout: .seconds(60), maxLifetime: .seconds(3600)),
            clock: time.clock)
        guard case .session(let session) = sessions.exchange(token: "t") else { throw SessionError() }
        time.advance(by: .seconds(59))
        guard case .valid = sessions.session(id: session.id) else { throw SessionError() }
        // Each request keeps it alive for another idle timeout.
        time.advance(by: .seconds(59))
        guard case .valid = sessions.session(id: session.id) else { throw SessionError() }
        time.advance(by: .seconds(60))
        #expect(sessions.session(id: session.id) == .expired)
        // An expired session is forgotten.
        #expect(sessions.session(id: session.id) == .unknown)
    }

    @Test func aBusySessionEndsAtItsMaximumLifetime() throws {
        let time = ManualTime()
        let sessions = ConsoleSessions(
            loginToken: "t", configuration: .init(idleTimeout: .seconds(60), maxLifetime: .seconds(300)),
            clock: time.clock)
        guard case .session(let session) = sessions.exchange(token: "t") else { throw SessionError() }
        for _ in 0..<5 {
            guard case .valid = sessions.session(id: session.id) else { throw SessionError() }
            time.advance(by: .seconds(50))
        }
        time.advance(by: .seconds(50))
        #expect(sessions.session(id: session.id) == .expired)
    }

    @Test func randomTokensAreHexAndDiffer() {
        let tokens = (0..<50).map { _ in ConsoleSessions.randomToken() }
        #expect(Set(tokens).count == 50)
        #expect(tokens.allSatisfy { $0.count == 64 && $0.allSatisfy(\.isHexDigit) })
    }

    struct SessionError: Error {}
}
