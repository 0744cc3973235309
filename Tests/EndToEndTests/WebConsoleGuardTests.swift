import CairnClient
import CairnProtocol
import CairnWeb
import Foundation
import Testing

/// Every guard of the web console over real HTTP, against a real `cairn
/// serve`: no token, a wrong or spent token, a foreign `Host`, a change from
/// another origin or without the CSRF token, an expired session. Each is
/// refused with its code, and the configuration it tried to change is
/// still at revision 0 afterwards. The console runs in this process so that
/// its session clock is moved by hand.
@Suite(.timeLimit(.minutes(2)))
struct WebConsoleGuardTests {
    static let provider = "excititor:oci-openvex"
    /// A change the guards must stop: one config.set on tenant acme.
    static let change = Array(#"{"values":{"cosignMode":"keypair"},"expectedRevision":0}"#.utf8)
    static let changeTarget = "/api/provider/config?tenant=acme&id=excititor:oci-openvex"

    @Test func withoutTheTokenNothingIsServedAndNothingChanges() async throws {
        let server = try await ServerProcess.start()
        let web = try await InProcessConsole.start(socketPath: server.socketPath, clock: ManualConsoleTime().clock)
        let probe = web.probe
        let page = try await probe.send("GET", "/")
        #expect(page.status == 401 && page.text.contains("WEB_LOGIN_REQUIRED"), "\(page)")
        #expect(!page.text.contains("console.js"), "the page's script is not served without a session")
        for target in ["/api/session", "/api/tenants", "/api/artifacts?tenant=acme", "/api/usage?tenant=acme"] {
            let answer = try await probe.send("GET", target)
            #expect(answer.status == 401 && answer.errorCode == "WEB_LOGIN_REQUIRED", "\(target): \(answer)")
        }
        let post = try await probe.send(
            "POST", Self.changeTarget, headers: [("Origin", "http://127.0.0.1:\(web.port)")], body: Self.change)
        #expect(post.status == 401 && post.errorCode == "WEB_LOGIN_REQUIRED", "\(post)")
        // A made-up cookie is no session either.
        let forged = try await probe.send(
            "POST", Self.changeTarget,
            headers: [("Cookie", "cairn_session_\(web.port)=\(String(repeating: "a", count: 64))")],
            body: Self.change)
        #expect(forged.status == 401 && forged.errorCode == "WEB_LOGIN_REQUIRED", "\(forged)")
        try await Self.expectUnchanged(server)
    }

    @Test func aWrongTokenIsRefusedAndTheRightOneWorksOnce() async throws {
        let server = try await ServerProcess.start()
        let web = try await InProcessConsole.start(socketPath: server.socketPath, clock: ManualConsoleTime().clock)
        let probe = web.probe
        let wrong = try await probe.send("GET", "/?token=\(String(web.token.reversed()))")
        #expect(wrong.status == 403 && wrong.text.contains("WEB_TOKEN_INVALID"), "\(wrong)")
        #expect(wrong.headers("Set-Cookie").isEmpty)
        // The right token: a session cookie (HttpOnly, SameSite=Strict) and a redirect that drops the token.
        let login = try await probe.send("GET", "/?token=\(web.token)")
        #expect(login.status == 303 && login.header("Location") == "/", "\(login)")
        let cookie = try #require(login.header("Set-Cookie"))
        #expect(cookie.hasPrefix("cairn_session_\(web.port)="))
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"))
        // Spent: the same URL again gives nothing.
        let again = try await probe.send("GET", "/?token=\(web.token)")
        #expect(again.status == 403 && again.text.contains("WEB_TOKEN_SPENT") && again.headers("Set-Cookie").isEmpty)
        // The session serves the page, with a policy that allows no inline script.
        let page = try await probe.send("GET", "/", headers: [("Cookie", String(cookie.prefix { $0 != ";" }))])
        #expect(page.status == 200 && page.text.contains("/assets/console.js"))
        let policy = try #require(page.header("Content-Security-Policy"))
        #expect(policy.contains("script-src 'self'") && policy.contains("default-src 'none'"))
        #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
        #expect(page.header("X-Frame-Options") == "DENY")
    }

    @Test func aForeignHostIsRefusedEvenWithASession() async throws {
        let server = try await ServerProcess.start()
        let web = try await InProcessConsole.start(socketPath: server.socketPath, clock: ManualConsoleTime().clock)
        let probe = web.probe
        // The token shown under a rebound name does not log in, and is not spent by it.
        let rebound = try await probe.send("GET", "/?token=\(web.token)", host: "attacker.example:\(web.port)")
        #expect(rebound.status == 421 && rebound.text.contains("WEB_FOREIGN_HOST"), "\(rebound)")
        #expect(rebound.headers("Set-Cookie").isEmpty)
        let (cookie, csrf) = try await web.login()
        for host in ["attacker.example:\(web.port)", "127.0.0.1:1", "127.0.0.1", ""] {
            let read = try await probe.send("GET", "/api/tenants", host: host, headers: [("Cookie", cookie)])
            #expect(read.status == 421 && read.errorCode == "WEB_FOREIGN_HOST", "\(host): \(read)")
            let change = try await probe.send(
                "POST", Self.changeTarget, host: host,
                headers: [("Cookie", cookie), ("X-Cairn-CSRF", csrf), ("Origin", "http://\(host)")], body: Self.change)
            #expect(change.status == 421 && change.errorCode == "WEB_FOREIGN_HOST", "\(host): \(change)")
        }
        try await Self.expectUnchanged(server)
        // localhost names the same console.
        let local = try await probe.send(
            "GET", "/api/tenants", host: "localhost:\(web.port)", headers: [("Cookie", cookie)])
        #expect(local.status == 200, "\(local)")
    }

    @Test func aChangeFromAnotherOriginOrWithoutTheCSRFTokenIsRefused() async throws {
        let server = try await ServerProcess.start()
        let web = try await InProcessConsole.start(socketPath: server.socketPath, clock: ManualConsoleTime().clock)
        let probe = web.probe
        let (cookie, csrf) = try await web.login()
        let own = "http://127.0.0.1:\(web.port)"
        let refusals: [([(String, String)], String)] = [
            ([("Cookie", cookie), ("X-Cairn-CSRF", csrf), ("Origin", "http://attacker.example")], "WEB_CROSS_ORIGIN"),
            ([("Cookie", cookie), ("X-Cairn-CSRF", csrf), ("Origin", "null")], "WEB_CROSS_ORIGIN"),
            ([("Cookie", cookie), ("X-Cairn-CSRF", csrf), ("Origin", "http://127.0.0.1:1")], "WEB_CROSS_ORIGIN"),
            ([("Cookie", cookie), ("Origin", own)], "WEB_CSRF_TOKEN"),
            ([("Cookie", cookie)], "WEB_CSRF_TOKEN"),
            ([("Cookie", cookie), ("X-Cairn-CSRF", "0"), ("Origin", own)], "WEB_CSRF_TOKEN"),
        ]
        for (headers, code) in refusals {
            for (method, target) in [
                ("POST", Self.changeTarget), ("POST", "/api/uploads?tenant=acme"),
                ("DELETE", "/api/artifacts/00000000-0000-4000-8000-000000000000?tenant=acme"),
            ] {
                let answer = try await probe.send(method, target, headers: headers, body: Self.change)
                #expect(answer.status == 403 && answer.errorCode == code, "\(method) \(target) \(headers): \(answer)")
            }
        }
        try await Self.expectUnchanged(server)
        let hello = try await CairnClient.withConnection(socketPath: server.socketPath) {
            try await $0.call(Methods.systemHealth, NoParams()).json
        }
        #expect(hello["store"]?["openUploads"] == .number(JSONNumber(0)), "no upload was begun: \(hello)")
        // The same change from the console's own page goes through: the refusals were the guards'.
        let accepted = try await probe.send(
            "POST", Self.changeTarget, headers: [("Cookie", cookie), ("X-Cairn-CSRF", csrf), ("Origin", own)],
            body: Self.change)
        #expect(accepted.status == 200, "\(accepted)")
        let revision = try await Self.revision(server)
        #expect(revision == 1)
    }

    @Test func anExpiredSessionIsRefusedAndChangesNothing() async throws {
        let server = try await ServerProcess.start()
        let time = ManualConsoleTime()
        let web = try await InProcessConsole.start(
            socketPath: server.socketPath, clock: time.clock,
            sessions: .init(idleTimeout: .seconds(600), maxLifetime: .seconds(3600)))
        let probe = web.probe
        let (cookie, csrf) = try await web.login()
        let headers = [("Cookie", cookie), ("X-Cairn-CSRF", csrf), ("Origin", "http://127.0.0.1:\(web.port)")]
        time.advance(by: .seconds(599))
        #expect(try await probe.send("GET", "/api/tenants", headers: headers).status == 200)
        time.advance(by: .seconds(600))
        let expired = try await probe.send("POST", Self.changeTarget, headers: headers, body: Self.change)
        #expect(expired.status == 401 && expired.errorCode == "WEB_SESSION_EXPIRED", "\(expired)")
        // Gone for good: the next request does not even know the session.
        let after = try await probe.send("GET", "/api/tenants", headers: headers)
        #expect(after.status == 401 && after.errorCode == "WEB_LOGIN_REQUIRED", "\(after)")
        try await Self.expectUnchanged(server)
    }

    /// The configuration of acme is still unconfigured, as the CLI shows it.
    static func expectUnchanged(_ server: ServerProcess) async throws {
        #expect(try await revision(server) == 0)
        let show = try await server.cairn(["providers", "show", provider, "--tenant", "acme", "--json"])
        #expect(show.status == 0, "\(show)")
        let json = try JSONParser.parse(show.stdout)
        #expect(json["revision"] == .number(JSONNumber(0)), "\(show)")
    }

    static func revision(_ server: ServerProcess) async throws -> Int64? {
        let snapshot = try await CairnClient.withConnection(socketPath: server.socketPath) {
            try await $0.providerConfiguration(tenant: "acme", providerId: provider)
        }
        guard case .number(let number)? = snapshot["revision"] else { return nil }
        return number.int64
    }
}
