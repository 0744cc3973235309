import CairnClient
import CairnProtocol
import Foundation
import ListenAddresses
import Testing

/// `cairn web` as a command: its first line, its refusal of a non-loopback
/// address, and what a user without a grant sees through it.
@Suite(.timeLimit(.minutes(2)))
struct WebConsoleCommandTests {
    @Test func theFirstLineIsTheURLWithAOneTimeToken() async throws {
        let server = try await ServerProcess.start()
        let web = try await WebConsoleProcess(socketPath: server.socketPath, directory: server.root)
        let pattern = #"^http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{64}$"#
        #expect(web.url.range(of: pattern, options: .regularExpression) != nil, "\(web.url)")
        #expect(web.port > 0)
        let login = try await web.probe.send("GET", "/?token=\(web.token)")
        #expect(login.status == 303, "\(login)")
    }

    @Test(arguments: ["0.0.0.0:0", "192.0.2.1:8080", "[::]:0"])
    func aNonLoopbackAddressIsRefusedWithoutAllowRemote(address: String) async throws {
        let server = try await ServerProcess.start()
        let result = try await server.cairn(["web", "--listen", address])
        #expect(result.status == 2, "\(result)")
        #expect(result.errorOutput.contains("not a loopback address") && result.errorOutput.contains("--allow-remote"))
        #expect(result.output.isEmpty)
    }

    @Test func aMalformedListenAddressIsAUsageError() async throws {
        let server = try await ServerProcess.start()
        let result = try await server.cairn(["web", "--listen", "example.com:80"])
        #expect(result.status == 2 && result.errorOutput.contains("--listen"), "\(result)")
    }

    /// A console run by uid 65534, which may read and change tenant
    /// `shared` only: tenant `secret` does not appear, and every call on it
    /// is refused as the socket refuses it (FORBIDDEN), another tenant's
    /// artifact id is NOT_FOUND, and nothing of `secret` changes.
    @Test(AuthEndToEndTests.needsRoot)
    func aUserWithoutAGrantSeesNothingOfATenant() async throws {
        let other = AuthEndToEndTests.otherUID
        let policy =
            #"{"grants":[{"uid":0,"tenants":["*"],"scopes":["read","admin"]},"#
            + #"{"uid":\#(other),"tenants":["shared"],"scopes":["read","admin"]}]}"#
        let server = try await AuthEndToEndTests.startReachable(policy: policy)
        // As root: something in each tenant, and a configuration in secret.
        let secretId = try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            _ = try await client.upload(
                tenant: "shared", providerId: "excititor:oci-openvex", mimeType: "text/plain", bytes: Array("s".utf8))
            let secret = try await client.upload(
                tenant: "secret", providerId: "excititor:oci-openvex", mimeType: "text/plain",
                bytes: Array("top secret".utf8))
            _ = try await client.setProviderConfiguration(
                tenant: "secret", providerId: "excititor:oci-openvex",
                values: JSONObject([("cosignMode", .string("keypair"))]))
            return secret.artifactId
        }
        let launcher = ["/usr/bin/setpriv", "--reuid=\(other)", "--regid=\(other)", "--clear-groups"]
        try #require(FileManager.default.isExecutableFile(atPath: launcher[0]), "setpriv is needed")
        let home = (server.root as NSString).appendingPathComponent("other-home")
        let web = try await WebConsoleProcess(
            socketPath: server.socketPath, directory: home, launcher: launcher,
            environment: ["HOME": home, "XDG_STATE_HOME": home])
        let probe = web.probe
        let login = try await probe.send("GET", "/?token=\(web.token)")
        let cookie = String(try #require(login.header("Set-Cookie")).prefix { $0 != ";" })
        let session = try JSONParser.parse(
            try await probe.send("GET", "/api/session", headers: [("Cookie", cookie)]).body)
        #expect(session["hello"]?["peer"]?["uid"] == .number(JSONNumber(Int64(other))), "the console acts as its user")
        let csrf = try #require(session["csrfToken"]?.stringValue)
        let headers = [("Cookie", cookie), ("X-Cairn-CSRF", csrf), ("Origin", "http://127.0.0.1:\(web.port)")]

        let tenants = try await probe.send("GET", "/api/tenants", headers: headers)
        #expect(try JSONParser.parse(tenants.body)["tenants"] == ["shared"], "\(tenants)")
        for target in [
            "/api/artifacts?tenant=secret", "/api/usage?tenant=secret", "/api/events?tenant=secret",
            "/api/provider?tenant=secret&id=excititor:oci-openvex",
            "/api/artifacts/\(secretId)/download?tenant=secret",
        ] {
            let answer = try await probe.send("GET", target, headers: headers)
            #expect(answer.status == 403 && answer.errorCode == "FORBIDDEN", "\(target): \(answer)")
            #expect(!answer.text.contains("top secret") && !answer.text.contains("keypair"), "\(target)")
        }
        let catalog = try JSONParser.parse(
            try await probe.send("GET", "/api/providers?tenant=secret", headers: headers).body)
        for provider in catalog["providers"]?.arrayValue ?? [] {
            #expect(provider["readiness"] == nil && provider["readinessError"]?["code"] == "FORBIDDEN", "\(provider)")
        }
        // The secret tenant's artifact id, asked for in the tenant the user has, is NOT_FOUND, as on the socket.
        let elsewhere = try await probe.send(
            "GET", "/api/artifacts/\(secretId)/download?tenant=shared", headers: headers)
        #expect(elsewhere.status == 404 && elsewhere.errorCode == "NOT_FOUND", "\(elsewhere)")
        // Changes are refused as on the socket, and nothing changes.
        let change = try await probe.send(
            "POST", "/api/provider/config?tenant=secret&id=excititor:oci-openvex", headers: headers,
            body: Array(#"{"values":{"cosignMode":"keyless"}}"#.utf8))
        #expect(change.status == 403 && change.errorCode == "FORBIDDEN", "\(change)")
        let delete = try await probe.send("DELETE", "/api/artifacts/\(secretId)?tenant=secret", headers: headers)
        #expect(delete.status == 403 && delete.errorCode == "FORBIDDEN", "\(delete)")
        // The CLI as the same user gets the same code.
        let cli = try await AuthEndToEndTests.cli(server, ["usage", "--tenant", "secret"])
        #expect(cli.status == 1 && cli.errorOutput.contains("FORBIDDEN"), "\(cli)")
        let snapshot = try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            try await client.providerConfiguration(tenant: "secret", providerId: "excititor:oci-openvex")
        }
        #expect(snapshot["revision"] == .number(JSONNumber(1)))
        let meta = try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            try await client.meta(tenant: "secret", artifactId: secretId)
        }
        #expect(meta.sizeBytes == 10)
    }
}

/// The console's download route: the content, verified, with its digest in a header.
@Suite(.timeLimit(.minutes(2)))
struct WebConsoleDownloadTests {
    @Test func aDownloadIsTheArtifactsBytes() async throws {
        let server = try await ServerProcess.start()
        // Several read chunks, so that the held-back last piece is not the only one.
        let content = (0..<(9 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        let meta = try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            let id = try await client.beginUpload(
                tenant: "acme", providerId: "excititor:oci-openvex", mimeType: "application/octet-stream",
                sizeBytes: UInt64(content.count))
            try await ChunkedUpload(connection: client, uploadId: id).send(from: 0) { at in
                at < content.count ? Array(content[Int(at)..<min(content.count, Int(at) + (4 << 20))]) : nil
            }
            return try await client.commit(uploadId: id)
        }
        let web = try await WebConsoleProcess(socketPath: server.socketPath, directory: server.root)
        let login = try await web.probe.send("GET", "/?token=\(web.token)")
        let cookie = String(try #require(login.header("Set-Cookie")).prefix { $0 != ";" })
        let download = try await web.probe.send(
            "GET", "/api/artifacts/\(meta.artifactId)/download?tenant=acme", headers: [("Cookie", cookie)])
        #expect(download.status == 200)
        #expect(download.header("X-Cairn-Sha256") == meta.sha256)
        #expect(download.header("Content-Disposition")?.contains("attachment") == true)
        #expect(download.body == content)
        let missing = try await web.probe.send(
            "GET", "/api/artifacts/00000000-0000-4000-8000-000000000000/download?tenant=acme",
            headers: [("Cookie", cookie)])
        #expect(missing.status == 404 && missing.errorCode == "NOT_FOUND", "\(missing)")
    }
}
